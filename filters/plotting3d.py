"""Figures of a 3D :class:`~scatter.filters.FilterBank`: central slices of some filters in space,
their Fourier profiles and the Littlewood-Paley sum (used by :func:`scatter.filters.plot_bank`)."""
from __future__ import annotations

import numpy as np

from .bank import FilterBank


def select_filters_3d(bank: FilterBank, max_filters: int) -> list[int]:
    """Indices of the filters drawn in space: for each degree ``l`` (meta ``'l'``) the ``m = 0``
    filter at the finest and coarsest scales (meta ``'j'``); evenly spaced filters otherwise."""
    meta = bank.meta
    if "l" in meta and "j" in meta and "m" in meta:
        js = np.unique(meta["j"])
        picks = [int(k) for l in np.unique(meta["l"]) for j in sorted({js[0], js[-1]})
                 for k in np.flatnonzero((meta["l"] == l) & (meta["j"] == j) & (meta["m"] == 0))]
    else:
        picks = list(range(len(bank)))
    if len(picks) > max_filters:
        picks = [picks[i] for i in np.unique(np.round(np.linspace(0, len(picks) - 1, max_filters)).astype(int))]
    return picks


def draw_bank_3d(fig, bank: FilterBank, max_filters: int, spatial: bool, fourier: bool) -> None:
    """Spatial panels (the slice ``axis 1 = centre`` of each selected filter: the part, real or
    imaginary, that holds more energy) beside the Fourier panels (``|psi_hat|**2`` of the selected
    filters and the Littlewood-Paley sum along the grid's three axes, and its central slice)."""
    picks = select_filters_3d(bank, max_filters)
    if spatial and fourier:
        left, right = fig.subfigures(1, 2, width_ratios=[1.4, 1.0], wspace=0.02)
    else:
        left = right = fig
    if spatial:
        psi, _ = bank.spatial(centered=True)
        centre = bank.shape[1] // 2
        n_cols = min(4, len(picks))
        n_rows = -(-len(picks) // n_cols)
        axes = left.subplots(n_rows, n_cols, squeeze=False)
        for ax in axes.flat[len(picks):]:
            ax.set_axis_off()
        for ax, k in zip(axes.flat, picks):
            cut = psi[k][:, centre, :]
            part, name = (cut.real, "Re") if (cut.real ** 2).sum() >= (cut.imag ** 2).sum() else (cut.imag, "Im")
            bound = np.abs(part).max() or 1.0
            ax.imshow(part, cmap="RdBu_r", vmin=-bound, vmax=bound, origin="lower")
            label = ", ".join(f"{key}={int(bank.meta[key][k])}" for key in ("j", "l", "m") if key in bank.meta)
            ax.set_title(f"{name} ψ ({label})", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        left.supxlabel("spatial filters: slice through the centre, axis 0 vertical, axis 2 horizontal",
                       fontsize=8)
    if fourier:
        ax_profile, ax_lp, ax_slice = right.subplots(3, 1)
        n0 = bank.shape[0]
        freqs = np.fft.fftfreq(n0)
        order = np.argsort(freqs)
        for k in picks:
            profile = np.abs(bank.psi[k][:, 0, 0]) ** 2     # along axis 0, the harmonics' axis
            label = ", ".join(f"{key}={int(bank.meta[key][k])}" for key in ("j", "l") if key in bank.meta)
            ax_profile.plot(freqs[order], profile[order], lw=0.8, label=label or None)
        if ax_profile.get_legend_handles_labels()[0]:
            ax_profile.legend(fontsize=5, ncol=2)
        ax_profile.set_title("|ψ̂|² of the drawn filters along frequency axis 0", fontsize=8)
        lp = bank.littlewood_paley(real_signals=False)
        for axis in range(3):
            n = bank.shape[axis]
            index = [0, 0, 0]
            line = []
            for i in range(n):
                index[axis] = i
                line.append(lp[tuple(index)])
            f = np.fft.fftfreq(n)
            o = np.argsort(f)
            ax_lp.plot(f[o], np.array(line)[o], lw=1, label=f"axis {axis}")
        ax_lp.legend(fontsize=6)
        ax_lp.set_title(f"Littlewood-Paley sum (min {lp.min():.3g}, max {lp.max():.3g})", fontsize=8)
        ax_lp.set_xlabel("frequency (cycles/sample)", fontsize=7)
        image = ax_slice.imshow(np.fft.fftshift(lp[:, :, 0]), origin="lower", cmap="viridis",
                                extent=(-0.5, 0.5, -0.5, 0.5))
        fig.colorbar(image, ax=ax_slice, shrink=0.8)
        ax_slice.set_title("Littlewood-Paley sum, slice w_2 = 0", fontsize=8)
        for ax in (ax_profile, ax_lp, ax_slice):
            ax.tick_params(labelsize=6)
