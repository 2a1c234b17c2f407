"""Figure of a curvelet bank: the wedge tiling of the frequency plane and curvelets in space."""
from __future__ import annotations

import numpy as np

from .bank import FilterBank, _flip


def _tiling_rgb(bank: FilterBank) -> np.ndarray:
    """RGB image (fftshifted) of the frequency tiling: one hue per wedge, brightness ``|psi|^2``."""
    import matplotlib

    hues = matplotlib.colormaps["tab20"]
    n_angles = bank.meta["n_angles"]
    rgb = np.zeros(bank.shape + (3,))
    real = bool(bank.params.get("real", True))
    for k in range(len(bank)):
        energy = bank.psi[k] ** 2
        if real and n_angles[k] > 1:  # a real bank holds one wedge of each opposite pair, scaled
            energy = 0.5 * (energy + _flip(energy))
        colour = np.asarray(hues((bank.meta["theta"][k] + 7 * bank.meta["j"][k]) % 20)[:3])
        rgb += energy[..., None] * colour
    rgb += (bank.phi ** 2)[..., None] * 0.85
    return np.fft.fftshift(np.clip(rgb, 0, 1), axes=(0, 1))


def plot_curvelet_bank(bank: FilterBank, per_scale: int = 3, figsize=None):
    """Draw a curvelet bank from :func:`scatter.filters.curvelet_2d`.

    Parameters
    ----------
    bank : FilterBank
        A bank with meta ``'j'``, ``'theta'``, ``'n_angles'`` (as :func:`curvelet_2d` makes).
    per_scale : int
        Curvelets drawn in space per scale (real part, spread over the scale's wedges).
    figsize : tuple, optional

    Returns
    -------
    matplotlib.figure.Figure
        Left: the tiling of the frequency plane (zero frequency at the centre, axis 0 vertical,
        each wedge one colour). Right: one row per scale, finest on top, then the low-pass;
        each panel a crop of the real part of a curvelet around its centre, sized to the scale.
    """
    import matplotlib.pyplot as plt

    J = int(bank.meta["j"].max()) + 1
    figsize = figsize or (4.5 + 2.0 * per_scale, max(4.5, 1.9 * (J + 1)))
    fig = plt.figure(figsize=figsize, constrained_layout=True)
    grid = fig.add_gridspec(J + 1, per_scale + 2)
    ax = fig.add_subplot(grid[:, :2])
    M, N = bank.shape
    ax.imshow(_tiling_rgb(bank), extent=(-0.5, 0.5, 0.5, -0.5), interpolation="nearest")
    ax.set_title(f"{bank.name} tiling ({len(bank)} filters + low-pass)")
    ax.set_xlabel("frequency, axis 1 (cycles/sample)")
    ax.set_ylabel("frequency, axis 0 (cycles/sample)")
    psi, phi = bank.spatial(centered=True)
    for j in range(J + 1):
        ks = np.flatnonzero(bank.meta["j"] == j) if j < J else np.array([-1])
        picks = ks[np.linspace(0, len(ks) - 1, min(per_scale, len(ks))).round().astype(int)]
        xi = bank.meta["xi"][ks[0]] if j < J else bank.meta["xi"][bank.meta["j"] == J - 1].min()
        half = int(min(M, N) // 2 if xi <= 0 else min(min(M, N) // 2, np.ceil(6.0 / xi)))
        for col, k in enumerate(picks):
            img = (psi[k] if k >= 0 else phi).real
            crop = img[M // 2 - half:M // 2 + half + 1, N // 2 - half:N // 2 + half + 1]
            a = fig.add_subplot(grid[j, col + 2])
            lim = np.abs(crop).max()
            a.imshow(crop, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            label = (f"j={j} θ={bank.meta['theta'][k]} ({np.degrees(bank.meta['angle'][k]):.0f}°)"
                     if k >= 0 else f"low-pass (j={J})")
            a.set_title(label, fontsize=8)
            a.set_xticks([])
            a.set_yticks([])
    return fig
