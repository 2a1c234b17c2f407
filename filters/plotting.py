"""Figures of a :class:`~scatter.filters.FilterBank`: spatial filters and the Fourier tiling.

Matplotlib is imported only when a figure is drawn, and figures are built with
:class:`matplotlib.figure.Figure` directly, not through ``pyplot``: drawing a bank never changes
the global backend, never opens a window and leaves nothing open in ``pyplot``'s figure registry.
In Jupyter the returned figure displays inline like any other.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_choice, check_float, check_int
from . import _style as style
from .bank import FilterBank

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_bank", "plot_littlewood_paley", "select_filters", "order_groups"]

# Beyond this many filters the Fourier panel shows the coverage image only (one contour per filter
# would take seconds and draw an unreadable tangle).
_MAX_CONTOURS = 256
# Beyond this many 1D spectra only an evenly spaced subset is drawn.
_MAX_CURVES = 256
# Widest row of spatial panels before a group is wrapped onto the next row.
_MAX_COLUMNS = 8
# Columns of the 1D spatial grid.
_COLUMNS_1D = 4
# Height in inches of one Fourier panel.
_PANEL_HEIGHT_2D = 3.6
_PANEL_HEIGHT_1D = 2.6


# ------------------------------------------------------------------------------ selection
def _evenly_spaced(indices: np.ndarray, count: int) -> np.ndarray:
    """``count`` entries of ``indices`` spread from the first to the last (all when fewer)."""
    if count >= indices.size:
        return indices
    picks = np.unique(np.round(np.linspace(0, indices.size - 1, count)).astype(int))
    return indices[picks]


def _group_key(bank: FilterBank) -> str | None:
    """Meta key whose values make a row of the spatial grid: scale in 2D, order in 1D."""
    key = "j" if bank.ndim == 2 else "order"
    if key in bank.meta and np.unique(bank.meta[key]).size > 1:
        return key
    return None


def select_filters(bank: FilterBank, max_filters: int = 16) -> list[np.ndarray]:
    """Choose at most ``max_filters`` filters to draw, as rows of filter indices.

    In 2D, one row per scale ``j`` (meta ``'j'``) holding evenly spaced orientations; in 1D, one
    row per scattering order (meta ``'order'``) holding evenly spaced filters. Without those keys,
    evenly spaced filters in rows of at most eight. When there are more groups than
    ``max_filters``, evenly spaced groups with one filter each.

    Returns
    -------
    list of ndarray of int
        Filter indices, one array per row of the drawing (order kept as in the bank).
    """
    max_filters = check_int("max_filters", max_filters, minimum=1)
    K = len(bank)
    key = _group_key(bank)
    if key is None:
        chosen = _evenly_spaced(np.arange(K), max_filters)
        width = _MAX_COLUMNS
        groups = [chosen]
    else:
        values = bank.meta[key]
        levels = np.unique(values)
        if levels.size > max_filters:
            levels = levels[_evenly_spaced(np.arange(levels.size), max_filters)]
        per_group = max(1, max_filters // levels.size)
        groups = [_evenly_spaced(np.flatnonzero(values == level), per_group) for level in levels]
        width = _MAX_COLUMNS
    rows = []
    for group in groups:  # wrap long groups so that the grid stays readable
        rows.extend(group[start:start + width] for start in range(0, group.size, width))
    return rows


def order_groups(bank: FilterBank) -> list[tuple[str, FilterBank]]:
    """The bank split by scattering order for frame bounds: ``[(label, sub-bank), ...]``.

    A bank whose meta ``'order'`` holds 1 and 2 (first- and second-order filters in one bank, as
    :func:`scatter.filters.morlet_1d` builds) has a Littlewood-Paley sum per order; summing both would count
    the frequency axis twice. Filters of order 0 serve both orders. Any other bank is one group
    labelled ``''``.
    """
    if "order" not in bank.meta:
        return [("", bank)]
    orders = np.asarray(bank.meta["order"])
    levels = [int(o) for o in np.unique(orders) if o != 0]
    if len(levels) <= 1:
        return [("", bank)]
    return [(f"order {o}", bank.select((orders == o) | (orders == 0))) for o in levels]


# ------------------------------------------------------------------------------ labels
def _fmt(value) -> str:
    value = np.asarray(value).item() if np.ndim(value) == 0 else value
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def _label(bank: FilterBank, k: int, with_xi: bool = False) -> str:
    """Short mathtext panel title from the meta keys present (order, ``j``, ``θ``, kind; the
    centre frequency ``ξ`` when asked or when nothing else names the filter; else the index)."""
    parts = []
    if "order" in bank.meta and bank.ndim == 1:
        parts.append(f"order {_fmt(bank.meta['order'][k])}")
    if "j" in bank.meta:
        parts.append(f"$j={_fmt(bank.meta['j'][k])}$")
    if "theta" in bank.meta:
        parts.append(f"$\\theta={_fmt(bank.meta['theta'][k])}$")
    if "kind" in bank.meta and isinstance(bank.meta["kind"][k], (str, np.str_)):
        parts.append(str(bank.meta["kind"][k]))
    if (with_xi or not parts) and "xi" in bank.meta and np.ndim(bank.meta["xi"][k]) == 0:
        parts.append(f"$\\xi={_fmt(bank.meta['xi'][k])}$")
    if not parts:
        return f"#{k}"
    if bank.ndim == 2 and len(parts) > 2:     # narrow 2D panels: a second line
        return ", ".join(parts[:2]) + "\n" + ", ".join(parts[2:])
    return ", ".join(parts)


def _labels(bank: FilterBank, indices) -> dict[int, str]:
    """Titles of the filters ``indices``, with ``ξ`` added when two titles would be equal
    (several filters per octave share ``j``)."""
    plain = {int(k): _label(bank, int(k)) for k in indices}
    if len(set(plain.values())) == len(plain):
        return plain
    return {int(k): _label(bank, int(k), with_xi=True) for k in indices}


def _colour_values(bank: FilterBank) -> tuple[np.ndarray, str]:
    """Per-filter values that colour the Fourier tiling: scale in 2D, order in 1D, else index."""
    key = _group_key(bank)
    if key is not None and np.asarray(bank.meta[key]).dtype.kind in "iuf":
        return np.asarray(bank.meta[key], dtype=float), key
    return np.arange(len(bank), dtype=float), "index"


# ------------------------------------------------------------------------------ geometry
def _crop_halfwidth(arrays: list[np.ndarray], outside: float, axis_len: int, axis: int) -> int:
    """Smallest half-width (samples) around the centre that leaves at most ``outside`` of each
    array's energy out, along ``axis`` (energy, not amplitude: heavy-tailed filters such as
    log-Gabors would otherwise get a window far larger than what one sees)."""
    centre = axis_len // 2
    distance = np.abs(np.arange(axis_len) - centre)
    half = 0
    for array in arrays:
        energy = np.abs(array) ** 2
        other = tuple(a for a in range(energy.ndim) if a != axis)
        profile = energy.sum(axis=other) if other else energy
        total = profile.sum()
        if total == 0:
            continue
        by_distance = np.bincount(distance, weights=profile)
        inside = np.cumsum(by_distance)
        half = max(half, int(np.searchsorted(inside, (1.0 - outside) * total)))
    return min(axis_len // 2, half + 1)


def _window(arrays, shape, crop):
    """Slices (one per axis) of the centred grid to draw, and the sample offsets they span."""
    slices, offsets = [], []
    for axis, n in enumerate(shape):
        if crop is None:
            lo, hi = 0, n
        else:
            half = _crop_halfwidth(arrays, crop, n, axis)
            lo, hi = max(0, n // 2 - half), min(n, n // 2 + half + 1)
        slices.append(slice(lo, hi))
        offsets.append(np.arange(lo, hi) - n // 2)
    return tuple(slices), offsets


def _frequencies(n: int) -> np.ndarray:
    """Centred DFT frequencies in cycles per sample (the order of ``fftshift``)."""
    return np.fft.fftshift(np.fft.fftfreq(n))


def _stacked_axes(fig, n: int, panel_height: float, sharex: bool = False) -> list:
    """``n`` axes stacked at the top of ``fig``, each about ``panel_height`` inches tall: when the
    spatial grid beside them is taller, an empty row below keeps them from stretching."""
    height = fig.bbox.height / fig.dpi
    filler = height / panel_height - n
    if filler < 0.25:
        return list(fig.subplots(n, 1, squeeze=False, sharex=sharex)[:, 0])
    grid = fig.add_gridspec(n + 1, 1, height_ratios=[1.0] * n + [filler])
    axes = [fig.add_subplot(grid[0])]
    for i in range(1, n):
        axes.append(fig.add_subplot(grid[i], sharex=axes[0] if sharex else None))
    return axes


# ------------------------------------------------------------------------------ drawing
def plot_bank(bank: FilterBank, max_filters: int = 16, *, spatial: bool = True,
              fourier: bool = True, crop: float | None = 1e-3, freq_scale: str = "auto",
              figsize=None, title: str | None = None, fig=None) -> "Figure":
    """Draw a filter bank: some spatial filters and the Fourier tiling with its frame bounds.

    Parameters
    ----------
    bank : FilterBank
        Any bank: 1D, 2D or 3D, real or complex Fourier filters, with or without low-pass, with
        any meta keys (``'j'``, ``'theta'``, ``'order'`` label and group the panels when present).
        3D banks are drawn as slices: the central slice of some filters in space (for solid
        harmonic banks, ``m = 0`` at the finest and coarsest scale of every degree ``l``), their
        Fourier profiles, and the Littlewood-Paley sum along each axis and on a central slice.
    max_filters : int >= 1
        Most band-pass filters drawn in space (see :func:`select_filters`); the Fourier panels
        show every filter.
    spatial : bool
        Draw the spatial filters (centred, from :meth:`FilterBank.spatial`). In 2D: one image row
        each for the real part, the imaginary part (omitted when every drawn filter is real) and
        the modulus, per scale; the low-pass in the last column. In 1D: one panel per filter with
        the three curves.
    fourier : bool
        Draw the Fourier tiling. In 2D: the centred frequency plane (cycles/sample) with the
        half-maximum contour of each filter, coloured by scale, over the per-filter normalised
        maximum, and the Littlewood-Paley sum image with its frame bounds. In 1D:
        ``|psi_hat|^2`` curves and the Littlewood-Paley sum. Banks holding two scattering orders
        get one sum per order.
    crop : float in (0, 1) or None
        Spatial panels show the centred window that leaves out at most this fraction of each
        filter's energy along each axis (one window per scale in 2D, per panel in 1D); ``None``
        shows the whole grid.
    freq_scale : {'auto', 'linear', 'log'}
        Frequency axis of the 1D Fourier panels: ``'log'`` draws the positive half on a log axis
        (constant-Q banks), ``'linear'`` the whole axis, ``'auto'`` picks ``'log'`` when at most
        1% of the energy of the median filter lies at negative frequencies. Ignored in 2D.
    figsize : (float, float), optional
        Figure size in inches (default: from the number of panels).
    title : str, optional
        Figure title (default: name, grid and number of filters).
    fig : matplotlib Figure or SubFigure, optional
        Draw into this (empty) figure instead of a new one, e.g. one cell of a gallery made with
        ``Figure.subfigures``; ``figsize`` is then ignored.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure
        ``fig`` when given, else a new figure not registered with ``pyplot``: save it with
        ``fig.savefig(path)``.

    Raises
    ------
    TypeError
        ``bank`` is not a :class:`FilterBank`, or ``max_filters`` is not an integer.
    ValueError
        ``max_filters < 1``, ``crop`` outside ``(0, 1)``, unknown ``freq_scale``, or both
        ``spatial`` and ``fourier`` off.

    Examples
    --------
    >>> from scatter import filters
    >>> bank = filters.morlet_2d((32, 32), J=2, L=4)
    >>> fig = filters.plot_bank(bank, spatial=False)      # Fourier tiling and Littlewood-Paley sum
    >>> len(fig.axes) >= 2                                # save it with fig.savefig("bank.png")
    True
    """
    from matplotlib.figure import Figure, FigureBase

    if not isinstance(bank, FilterBank):
        raise TypeError(f"bank must be a filters.FilterBank, got {type(bank).__name__}")
    rows = select_filters(bank, max_filters)
    if crop is not None:
        crop = check_float("crop", crop, positive=True)
        if crop >= 1:
            raise ValueError(f"crop must be in (0, 1) or None, got {crop}")
    check_choice("freq_scale", freq_scale, ("auto", "linear", "log"))
    if fig is not None and not isinstance(fig, FigureBase):
        raise TypeError(f"fig must be a matplotlib Figure or SubFigure, got {type(fig).__name__}")
    if not (spatial or fourier):
        raise ValueError("spatial and fourier are both False: nothing to draw")

    if bank.ndim == 3:
        from .plotting3d import draw_bank_3d

        if fig is None:
            fig = Figure(figsize=figsize or (11, 7), layout="constrained")
        fig.suptitle(title or f"{style.family(bank.name)}: {len(bank)} filters on a "
                              f"{'x'.join(map(str, bank.shape))} grid")
        draw_bank_3d(fig, bank, max_filters, spatial, fourier)
        return fig
    n_shown = sum(row.size for row in rows)
    groups = order_groups(bank) if fourier else []
    psi_space, phi_space = bank.spatial(centered=True) if spatial else (None, None)
    if bank.ndim == 2:
        show_imag = spatial and _has_imaginary(psi_space, phi_space, rows)
        parts = 3 if show_imag else 2
        n_cols = max(row.size for row in rows) + (bank.phi is not None)
        left_w, left_h = 1.15 * n_cols, 1.15 * parts * len(rows) + 0.6
        right_w, right_h = 4.2, _PANEL_HEIGHT_2D * (1 + len(groups))
    else:
        n_cells = n_shown + (bank.phi is not None)
        n_cols = min(n_cells, _COLUMNS_1D)
        left_w, left_h = 2.3 * n_cols, 1.7 * math.ceil(n_cells / n_cols) + 0.6
        right_w, right_h = 6.0, _PANEL_HEIGHT_1D * (1 + len(groups))
    # a spatial grid much taller than the Fourier column: the Fourier panels go above it, side
    # by side (beside it they would leave a large empty area)
    above = bank.ndim == 2 and spatial and fourier and left_h > 1.8 * right_h
    if above:
        right_w, right_h = _PANEL_HEIGHT_2D * 1.25 * (1 + len(groups)), _PANEL_HEIGHT_2D
    if figsize is None:
        if above:
            width, height = max(left_w, right_w), left_h + right_h
        else:
            width = (left_w if spatial else 0) + (right_w if fourier else 0)
            height = max(left_h if spatial else 0, right_h if fourier else 0)
        figsize = (min(width, 40), min(max(height, 3.0), 40))
    if fig is None:
        fig = Figure(figsize=figsize, layout="constrained")
    if above:
        right, left = fig.subfigures(2, 1, height_ratios=[right_h, left_h], hspace=0.02)
    elif spatial and fourier:
        left, right = fig.subfigures(1, 2, width_ratios=[left_w, right_w], wspace=0.02)
    else:
        left = right = fig
    if title is None:
        grid = (f"a {'x'.join(map(str, bank.shape))} grid" if bank.ndim > 1
                else f"{bank.shape[0]} samples")
        title = (f"{style.family(bank.name)}: {len(bank)} filters on {grid}"
                 + (f" ({n_shown} drawn in space)" if spatial and n_shown < len(bank) else ""))
    fig.suptitle(title)

    if bank.ndim == 2:
        if spatial:
            _spatial_2d(left, bank, rows, psi_space, phi_space, show_imag, crop)
        if fourier:
            _fourier_2d(right, bank, groups, side_by_side=above)
    else:
        if spatial:
            _spatial_1d(left, bank, rows, psi_space, phi_space, crop)
        if fourier:
            _fourier_1d(right, bank, groups, freq_scale)
    return fig


def _has_imaginary(psi_space, phi_space, rows) -> bool:
    chosen = psi_space[np.concatenate(rows)]
    arrays = [chosen] + ([phi_space] if phi_space is not None else [])
    return any(np.abs(a.imag).max() > 1e-10 * max(np.abs(a).max(), 1e-300) for a in arrays)


def _spatial_2d(fig, bank, rows, psi_space, phi_space, show_imag, crop) -> None:
    # each filter is drawn divided by its largest modulus: one colour bar per kind of part
    parts = [("Re", np.real, style.SIGNED, True)]
    if show_imag:
        parts.append(("Im", np.imag, style.SIGNED, True))
    parts.append(("$|\\psi|$", np.abs, style.MODULUS, False))
    n_cols = max(row.size for row in rows) + (phi_space is not None)
    axes = fig.subplots(len(rows) * len(parts), n_cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    titles = _labels(bank, np.concatenate(rows))
    drawn = {True: ([], None), False: ([], None)}

    def draw(ax, image, window, transform, cmap, symmetric):
        slices, (dy, dx) = window
        # Re and Im share the modulus' scale: a numerically zero part stays blank
        bound = np.abs(image[slices]).max() or 1.0
        values = transform(image[slices]) / bound
        shown = ax.imshow(values, cmap=cmap, vmin=-1.0 if symmetric else 0.0, vmax=1.0,
                          origin="lower", extent=(dx[0] - 0.5, dx[-1] + 0.5, dy[0] - 0.5,
                                                  dy[-1] + 0.5), interpolation="nearest")
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
        drawn[symmetric] = (drawn[symmetric][0] + [ax], shown)

    def size(window) -> str:
        return "x".join(str(len(o)) for o in window[1])

    # each scale gets its own window (a shared one would shrink the finest filters to a dot)
    phi_window = _window([phi_space], bank.shape, crop) if phi_space is not None else None
    for r, row in enumerate(rows):
        window = _window([psi_space[k] for k in row], bank.shape, crop)
        for p, (name, transform, cmap, symmetric) in enumerate(parts):
            line = r * len(parts) + p
            for c, k in enumerate(row):
                draw(axes[line, c], psi_space[k], window, transform, cmap, symmetric)
                if p == 0:
                    axes[line, c].set_title(titles[int(k)], fontsize=8)
            axes[line, 0].set_ylabel(name if p else f"{size(window)} px\n{name}", fontsize=8)
            if r == 0 and phi_window is not None:
                draw(axes[line, n_cols - 1], phi_space, phi_window, transform, cmap, symmetric)
                if p == 0:
                    axes[line, n_cols - 1].set_title(f"$\\phi$ ({size(phi_window)} px)", fontsize=8)
    # two colour bars for all panels: signed parts on the right, moduli below
    for symmetric, label, where in ((True, "Re, Im / max $|\\psi|$", "right"),
                                    (False, "$|\\psi|$ / max $|\\psi|$", "bottom")):
        panels, image = drawn[symmetric]
        if panels:
            style.colorbar(fig, image, list(axes.flat), label=label, location=where,
                           shrink=0.5, aspect=30)
    fig.supxlabel("spatial filters, centred, each divided by its largest modulus", fontsize=8)


def _fourier_2d(fig, bank, groups, side_by_side: bool = False) -> None:
    from matplotlib.lines import Line2D

    fy, fx = (_frequencies(n) for n in bank.shape)
    magnitude = np.abs(np.fft.fftshift(bank.psi, axes=(1, 2)))
    peaks = magnitude.reshape(len(bank), -1).max(axis=1)
    normalised = magnitude / np.where(peaks > 0, peaks, 1.0)[:, None, None]
    axes = (list(fig.subplots(1, 1 + len(groups), squeeze=False)[0]) if side_by_side
            else _stacked_axes(fig, 1 + len(groups), _PANEL_HEIGHT_2D))

    ax = axes[0]
    coverage = style.frequency_plane(ax, normalised.max(axis=0), cmap="Greys", vmin=0, vmax=1)
    style.colorbar(fig, coverage, ax, label="max$_k$ $|\\hat\\psi_k|$ / max $|\\hat\\psi_k|$")
    values, key = _colour_values(bank)
    levels = np.unique(values)
    cmap = _colormap("viridis")
    span = (levels.max() - levels.min()) or 1.0
    colour = {v: cmap(0.9 * (v - levels.min()) / span) for v in levels}
    if len(bank) <= _MAX_CONTOURS:
        for k in range(len(bank)):
            if peaks[k] > 0 and normalised[k].min() < 0.5:
                ax.contour(fx, fy, normalised[k], levels=[0.5], colors=[colour[values[k]]],
                           linewidths=0.9)
    if bank.phi is not None:
        phi = np.abs(np.fft.fftshift(bank.phi))
        if phi.max() > 0 and phi.min() < 0.5 * phi.max():
            ax.contour(fx, fy, phi / phi.max(), levels=[0.5], colors=["tab:red"], linewidths=1.2,
                       linestyles="--")
    handles = []
    if len(bank) <= _MAX_CONTOURS and levels.size <= 10:
        handles = [Line2D([], [], color=colour[v], label=f"{key}={_fmt(v)}") for v in levels]
    if bank.phi is not None:
        handles.append(Line2D([], [], color="tab:red", ls="--", label="$\\phi$"))
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.7)
    ax.set_title("Fourier tiling: half-maximum contours of $|\\hat\\psi_k|$", fontsize=9)

    for ax, (name, sub) in zip(axes[1:], groups):
        lp = np.fft.fftshift(sub.littlewood_paley())
        # from 0: an absolute scale shows holes in the tiling, and a constant sum (a Parseval
        # frame) a uniform image rather than magnified rounding noise
        image = style.frequency_plane(ax, lp, cmap=style.SUM, vmin=min(0.0, lp.min()),
                                      vmax=max(lp.max(), 1e-300))
        style.colorbar(fig, image, ax, label="$\\sum_k |\\hat\\psi_k|^2$")
        ax.set_title(f"Littlewood-Paley sum{' (' + name + ')' if name else ''}, real signals"
                     f"\n{style.lower_bound_note(sub.littlewood_paley())}", fontsize=9)


def _spatial_1d(fig, bank, rows, psi_space, phi_space, crop) -> None:
    cells: list = [int(k) for row in rows for k in row] + (["phi"] if phi_space is not None else [])
    n_cols = min(len(cells), _COLUMNS_1D)
    n_rows = math.ceil(len(cells) / n_cols)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.flat[len(cells):]:
        ax.set_axis_off()
    titles = _labels(bank, [k for k in cells if k != "phi"])
    for ax, k in zip(axes.flat, cells):
        signal = phi_space if k == "phi" else psi_space[k]
        # each panel its own window: widths differ by orders of magnitude across a bank
        (window,), (offsets,) = _window([signal], bank.shape, crop)
        ax.plot(offsets, signal[window].real, lw=0.9, label="Re")
        ax.plot(offsets, signal[window].imag, lw=0.9, label="Im")
        ax.plot(offsets, np.abs(signal[window]), "k--", lw=0.8, label="$|\\psi|$")
        ax.set_title("$\\phi$ (low-pass)" if k == "phi" else titles[k], fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6, loc="upper right")
    fig.supxlabel("spatial filters, centred (samples)", fontsize=8)
    fig.supylabel("amplitude", fontsize=8)


def _fourier_1d(fig, bank, groups, freq_scale) -> None:
    n = bank.shape[0]
    freqs = _frequencies(n)
    energy = np.abs(np.fft.fftshift(bank.psi, axes=1)) ** 2
    if freq_scale == "auto":  # log for (nearly) analytic banks; the median ignores aliased tails
        negative = energy[:, freqs < 0].sum(axis=1) / np.maximum(energy.sum(axis=1), 1e-300)
        freq_scale = "log" if np.median(negative) <= 1e-2 else "linear"
    log = freq_scale == "log"
    keep = freqs > 0 if log else np.ones(n, bool)
    axes = _stacked_axes(fig, 1 + len(groups), _PANEL_HEIGHT_1D, sharex=True)

    ax = axes[0]
    values, key = _colour_values(bank)
    cmap = _colormap("viridis")
    span = (values.max() - values.min()) or 1.0
    drawn = _evenly_spaced(np.arange(len(bank)), _MAX_CURVES)
    for k in drawn:
        ax.plot(freqs[keep], energy[k, keep], lw=0.8,
                color=cmap(0.9 * (values[k] - values.min()) / span))
    levels = np.unique(values)
    if 1 < levels.size <= 10:
        for v in levels:  # legend proxies, one per colour
            ax.plot([], [], color=cmap(0.9 * (v - values.min()) / span), label=f"{key}={_fmt(v)}")
    if bank.phi is not None:
        phi = np.abs(np.fft.fftshift(bank.phi)) ** 2
        ax.plot(freqs[keep], phi[keep], "--", color="tab:red", lw=1.2, label="$|\\hat\\phi|^2$")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"$|\\hat\\psi_k|^2$ (colour: {key})" + (f", {drawn.size} of {len(bank)} drawn"
                                                         if drawn.size < len(bank) else ""),
                 fontsize=9)
    ax.set_ylabel("$|\\hat\\psi_k|^2$", fontsize=8)
    ax.tick_params(labelsize=7)
    for ax, (name, sub) in zip(axes[1:], groups):
        lp = np.fft.fftshift(sub.littlewood_paley())
        low, high = float(lp.min()), float(lp.max())
        ax.plot(freqs[keep], lp[keep], "k", lw=1)
        ax.axhline(low, color="tab:blue", lw=0.8, ls=":")
        ax.axhline(high, color="tab:orange", lw=0.8, ls=":")
        zero = int(np.flatnonzero(freqs == 0)[0])
        note = style.lower_bound_note(sub.littlewood_paley())
        if log and not np.all(lp == lp[zero]):
            # an extreme at zero frequency, which a log axis cannot show, is said
            at = [name for name, v in (("A", low), ("B", high)) if lp[zero] == v]
            if at:
                note += f" ({' and '.join(at)} at $\\omega=0$, off the log axis)"
        ax.set_title(f"Littlewood-Paley sum{' (' + name + ')' if name else ''}, real signals"
                     f"\n{note}", fontsize=9)
        ax.set_ylabel("$\\sum_k |\\hat\\psi_k|^2$", fontsize=8)
        ax.tick_params(labelsize=7)
    if log:
        axes[-1].set_xscale("log")
    axes[-1].set_xlabel("frequency (cycles/sample)" + (", positive half, log scale" if log
                                                       else ""), fontsize=8)


def _colormap(name: str):
    from matplotlib import colormaps

    return colormaps[name]


def plot_littlewood_paley(banks, figsize=None, title: str | None = None) -> "Figure":
    """The Littlewood-Paley sums of 2D banks side by side, on one colour scale.

    Parameters
    ----------
    banks : dict of str to FilterBank, or a sequence of FilterBank
        2D banks (any grids); the keys (or the banks' family names) title the panels.
    figsize : (float, float), optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One frequency plane per bank (``ω₁`` up, zero frequency at the centre) with its frame
        bounds ``A``, ``B`` in the title, and why ``A`` is zero where it is; one colour bar.
        Not registered with ``pyplot``.

    Examples
    --------
    >>> from scatter import filters
    >>> fig = filters.plot_littlewood_paley({"Morlet": filters.morlet_2d((32, 32), J=2, L=4),
    ...                                      "curvelets": filters.curvelet_2d((32, 32), 2)})
    >>> len(fig.axes)                                   # two planes and a colour bar
    3
    """
    from matplotlib.figure import Figure

    if isinstance(banks, FilterBank):
        banks = [banks]
    if not isinstance(banks, dict):
        banks = {style.family(b.name) if isinstance(b, FilterBank) else str(b): b for b in banks}
    if not banks:
        raise ValueError("banks is empty: give at least one 2D FilterBank")
    for name, bank in banks.items():
        if not isinstance(bank, FilterBank) or bank.ndim != 2:
            raise TypeError(f"banks[{name!r}] must be a 2D filters.FilterBank, got "
                            f"{type(bank).__name__}" + (f" of {bank.ndim} dimensions"
                                                        if isinstance(bank, FilterBank) else ""))
    sums = {name: bank.littlewood_paley() for name, bank in banks.items()}
    top = max(1.0, max(float(lp.max()) for lp in sums.values()))
    fig = Figure(figsize=figsize or (3.4 * len(banks) + 1.0, 4.4), layout="constrained")
    axes = fig.subplots(1, len(banks), squeeze=False)[0]
    for ax, (name, lp) in zip(axes, sums.items()):
        shown = style.frequency_plane(ax, np.fft.fftshift(lp), cmap=style.SUM, vmin=0, vmax=top)
        note = style.lower_bound_note(lp).replace(" (", "\n(")
        ax.set_title(f"{name}: {len(banks[name])} filters\n{note}", fontsize=8)
    for ax in axes[1:]:
        ax.set_ylabel("")
    style.colorbar(fig, shown, list(axes), label="$\\sum_k |\\hat\\psi_k(\\omega)|^2$ (real signals)",
                   shrink=0.8)
    fig.suptitle(title or "Littlewood-Paley sums: frame bounds $A \\leq \\sum_k |\\hat\\psi_k|^2 "
                          "\\leq B$")
    return fig
