"""Figure of a curvelet bank: the wedge tiling of the frequency plane and curvelets in space."""
from __future__ import annotations

import numpy as np

from . import _style as style
from .bank import FilterBank, _flip

# most curvelets drawn per row of the spatial panels
_MAX_COLUMNS = 6


def _wedge_colours(bank: FilterBank) -> np.ndarray:
    """RGB per filter: the hue says the wedge's orientation (mod 180°), and neighbouring wedges
    of a scale alternate in lightness so that no two adjacent wedges look alike."""
    from matplotlib import colormaps

    hues = colormaps["hsv"]
    angle = np.mod(np.asarray(bank.meta["angle"], dtype=float), np.pi) / np.pi
    shade = np.where(np.asarray(bank.meta["theta"]) % 2 == 0, 1.0, 0.6)
    return np.array([np.asarray(hues(a)[:3]) * s for a, s in zip(angle, shade)])


def _tiling_rgb(bank: FilterBank) -> np.ndarray:
    """RGB image (fftshifted) of the frequency tiling: each wedge in its colour, brightness
    ``|psi|^2``; the low-pass in grey."""
    colours = _wedge_colours(bank)
    n_angles = bank.meta["n_angles"]
    rgb = np.zeros(bank.shape + (3,))
    real = bool(bank.params.get("real", True))
    for k in range(len(bank)):
        energy = bank.psi[k] ** 2
        if real and n_angles[k] > 1:  # a real bank holds one wedge of each opposite pair, scaled
            energy = 0.5 * (energy + _flip(energy))
        rgb += energy[..., None] * colours[k]
    rgb += (bank.phi ** 2)[..., None] * 0.85
    return np.fft.fftshift(np.clip(rgb, 0, 1), axes=(0, 1))


def plot_curvelet_bank(bank: FilterBank, per_scale: int = 3, figsize=None):
    """Draw a curvelet bank from :func:`scatter.filters.curvelet_2d`.

    Parameters
    ----------
    bank : FilterBank
        A bank with meta ``'j'``, ``'theta'``, ``'angle'``, ``'n_angles'`` (as
        :func:`curvelet_2d` makes).
    per_scale : int
        Curvelets drawn in space per scale (real part, spread over the scale's wedges), in rows
        of at most six.
    figsize : tuple, optional

    Returns
    -------
    matplotlib.figure.Figure
        Left: the tiling of the frequency plane (zero frequency at the centre, ``ω₁`` up, each
        wedge coloured by its orientation). Right: the finest scale on top, then coarser ones
        and the low-pass; each panel a crop of the real part of a curvelet around its centre,
        sized to the scale, divided by its largest magnitude. Not registered with ``pyplot``.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    J = int(bank.meta["j"].max()) + 1
    cols = max(1, min(per_scale, _MAX_COLUMNS))
    rows_per_scale = -(-per_scale // cols)
    n_rows = J * rows_per_scale + 1
    figsize = figsize or (5.6 + 1.45 * cols, max(5.0, 1.45 * n_rows + 0.8))
    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[5.6, 1.45 * cols], wspace=0.02)
    ax = left.subplots()
    style.frequency_plane(ax, _tiling_rgb(bank))
    ax.set_title("Frequency tiling: $|\\hat\\psi_k|^2$ in colour, $|\\hat\\phi|^2$ in grey",
                 fontsize=9)
    hue = ScalarMappable(Normalize(0, 180), cmap="hsv")
    style.colorbar(left, hue, ax, label="wedge orientation (degrees, mod 180)",
                   location="bottom", shrink=0.8)

    M, N = bank.shape
    psi, phi = bank.spatial(centered=True)
    axes = right.subplots(n_rows, cols, squeeze=False)
    for a in axes.flat:
        a.set_axis_off()
    shown = None
    for j in range(J + 1):
        ks = np.flatnonzero(bank.meta["j"] == j) if j < J else np.array([-1])
        count = min(per_scale, len(ks))
        picks = ks[np.linspace(0, len(ks) - 1, count).round().astype(int)]
        xi = bank.meta["xi"][ks[0]] if j < J else bank.meta["xi"][bank.meta["j"] == J - 1].min()
        half = int(min(M, N) // 2 if xi <= 0 else min(min(M, N) // 2, np.ceil(6.0 / xi)))
        for i, k in enumerate(picks):
            a = axes[j * rows_per_scale + i // cols, i % cols]
            img = (psi[k] if k >= 0 else phi).real
            crop = img[M // 2 - half:M // 2 + half + 1, N // 2 - half:N // 2 + half + 1]
            shown = a.imshow(crop / (np.abs(crop).max() or 1.0), cmap=style.SIGNED, vmin=-1,
                             vmax=1, origin="lower", interpolation="nearest")
            a.set_axis_on()
            a.set_xticks([])
            a.set_yticks([])
            label = (f"$j={j}$, {np.degrees(bank.meta['angle'][k]):.0f}°" if k >= 0
                     else f"low-pass ($j={J}$)")
            a.set_title(label, fontsize=8)
    style.colorbar(right, shown, list(axes.flat), label="Re / max $|\\cdot|$", shrink=0.5)
    right.supxlabel("curvelets in space (real part), finest scale on top", fontsize=8)
    fig.suptitle(f"{style.family(bank.name)}: {len(bank)} filters and a low-pass on a "
                 f"{M}x{N} grid")
    return fig
