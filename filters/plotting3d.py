"""Figures of a 3D :class:`~scatter.filters.FilterBank`: central slices of some filters in space,
their Fourier profiles and the Littlewood-Paley sum (used by :func:`scatter.filters.plot_bank`)."""
from __future__ import annotations

import numpy as np

from . import _style as style
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


def _filter_label(bank: FilterBank, k: int, keys=("j", "l", "m")) -> str:
    """Mathtext naming filter ``k`` by the meta keys present (``'$j=0$, $l=1$'``)."""
    return ", ".join(f"${key}={int(bank.meta[key][k])}$" for key in keys if key in bank.meta)


def _spatial_3d(fig, bank: FilterBank, picks: list[int]) -> None:
    """The slice ``x_2 = centre`` of each selected filter (the part, real or imaginary, that holds
    more energy), each divided by its largest magnitude: the filters' amplitudes differ by orders
    of magnitude across scales, so the panels share one normalised scale and one colour bar per
    row."""
    psi, _ = bank.spatial(centered=True)
    centre = bank.shape[1] // 2
    n_cols = min(4, len(picks))
    n_rows = -(-len(picks) // n_cols)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.flat[len(picks):]:
        ax.set_axis_off()
    image = None
    for ax, k in zip(axes.flat, picks):
        cut = psi[k][:, centre, :]
        real = (cut.real ** 2).sum() >= (cut.imag ** 2).sum()
        part = cut.real if real else cut.imag
        image = ax.imshow(part / (np.abs(part).max() or 1.0), cmap=style.SIGNED, vmin=-1, vmax=1,
                          origin="lower", interpolation="nearest")
        name = r"$\mathrm{Re}\,\psi$" if real else r"$\mathrm{Im}\,\psi$"
        ax.set_title(f"{name}: {_filter_label(bank, k)}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    for row in axes:
        used = [ax for ax in row if ax.has_data()]
        if used:
            style.colorbar(fig, image, used, label=r"$\psi / \max|\psi|$")
    fig.supxlabel(r"slice $x_2$ = centre: $x_1$ vertical, $x_3$ horizontal", fontsize=8)


def _fourier_3d(fig, bank: FilterBank, picks: list[int]) -> None:
    """Fourier profiles of the selected filters along ``omega_1``, the Littlewood-Paley sum along
    the three axes, and its slice ``omega_3 = 0``."""
    ax_profile, ax_lp, ax_slice = fig.subplots(3, 1)
    freqs = style.centred_frequencies(bank.shape[0])
    for k in picks:
        profile = np.fft.fftshift(np.abs(bank.psi[k][:, 0, 0]) ** 2)  # the harmonics' axis
        ax_profile.plot(freqs, profile, lw=0.8, label=_filter_label(bank, k, ("j", "l")) or None)
    if ax_profile.get_legend_handles_labels()[0]:
        ax_profile.legend(fontsize=5, ncol=2)
    ax_profile.set_title(r"$|\hat\psi|^2$ of the drawn filters along $\omega_1$ "
                         r"($\omega_2=\omega_3=0$)", fontsize=8)
    ax_profile.set_xlabel(style.OMEGA_1, fontsize=7)
    lp = bank.littlewood_paley(real_signals=False)
    for axis in range(3):
        line = np.moveaxis(lp, axis, 0)[:, 0, 0]
        ax_lp.plot(style.centred_frequencies(lp.shape[axis]), np.fft.fftshift(line), lw=1,
                   label=f"along $\\omega_{axis + 1}$")
    ax_lp.legend(fontsize=6)
    ax_lp.set_title(r"Littlewood-Paley sum $\sum_k |\hat\psi_k|^2$" + "\n" + style.lower_bound_note(lp),
                    fontsize=8)
    ax_lp.set_xlabel("frequency (cycles/sample)", fontsize=7)
    image = style.frequency_plane(ax_slice, np.fft.fftshift(lp[:, :, 0]), cmap=style.SUM)
    style.colorbar(fig, image, ax_slice)
    ax_slice.set_title(r"Littlewood-Paley sum, slice $\omega_3=0$", fontsize=8)
    for ax in (ax_profile, ax_lp, ax_slice):
        ax.tick_params(labelsize=6)


def draw_bank_3d(fig, bank: FilterBank, max_filters: int, spatial: bool, fourier: bool) -> None:
    """Spatial panels (central slices of the selected filters) beside the Fourier panels
    (``|psi_hat|**2`` of the selected filters, the Littlewood-Paley sum along the grid's three
    axes and its central slice), in the library's style (:mod:`scatter.filters._style`)."""
    picks = select_filters_3d(bank, max_filters)
    if spatial and fourier:
        left, right = fig.subfigures(1, 2, width_ratios=[1.4, 1.0], wspace=0.02)
    else:
        left = right = fig
    if spatial:
        _spatial_3d(left, bank, picks)
    if fourier:
        _fourier_3d(right, bank, picks)
