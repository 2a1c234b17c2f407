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
from .bank import FilterBank

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_bank", "select_filters", "order_groups"]

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


def _label(bank: FilterBank, k: int) -> str:
    """Short panel title from the meta keys present (``j``, ``theta``, else the index)."""
    parts = []
    if "order" in bank.meta and bank.ndim == 1:
        parts.append(f"o={_fmt(bank.meta['order'][k])}")
    if "j" in bank.meta:
        parts.append(f"j={_fmt(bank.meta['j'][k])}")
    if "theta" in bank.meta:
        parts.append(f"θ={_fmt(bank.meta['theta'][k])}")
    if "kind" in bank.meta and isinstance(bank.meta["kind"][k], (str, np.str_)):
        parts.append(str(bank.meta["kind"][k]))
    if not parts and "xi" in bank.meta:
        parts.append(f"ξ={_fmt(bank.meta['xi'][k])}")
    return " ".join(parts) if parts else f"#{k}"


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


def _edges(freqs: np.ndarray) -> tuple[float, float]:
    step = freqs[1] - freqs[0] if freqs.size > 1 else 1.0
    return float(freqs[0] - step / 2), float(freqs[-1] + step / 2)


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
        fig.suptitle(title or f"{bank.name}: {len(bank)} filters on a "
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
    if figsize is None:
        width = (left_w if spatial else 0) + (right_w if fourier else 0)
        height = max(left_h if spatial else 0, right_h if fourier else 0)
        figsize = (min(width, 40), min(max(height, 3.0), 40))
    if fig is None:
        fig = Figure(figsize=figsize, layout="constrained")
    if spatial and fourier:
        left, right = fig.subfigures(1, 2, width_ratios=[left_w, right_w], wspace=0.02)
    else:
        left = right = fig
    if title is None:
        title = (f"{bank.name}: {len(bank)} filters on a {'x'.join(map(str, bank.shape))} grid"
                 + (f" ({n_shown} drawn in space)" if spatial and n_shown < len(bank) else ""))
    fig.suptitle(title)

    if bank.ndim == 2:
        if spatial:
            _spatial_2d(left, bank, rows, psi_space, phi_space, show_imag, crop)
        if fourier:
            _fourier_2d(right, bank, groups)
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
    parts = [("Re", np.real, "RdBu_r", True)]
    if show_imag:
        parts.append(("Im", np.imag, "RdBu_r", True))
    parts.append(("|ψ|", np.abs, "magma", False))
    n_cols = max(row.size for row in rows) + (phi_space is not None)
    axes = fig.subplots(len(rows) * len(parts), n_cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()

    def draw(ax, image, window, transform, cmap, symmetric):
        slices, (dy, dx) = window
        values = transform(image[slices])
        # Re and Im share the modulus' scale: a numerically zero part stays blank
        bound = np.abs(image[slices]).max() or 1.0
        limits = (-bound, bound) if symmetric else (0.0, bound)
        ax.imshow(values, cmap=cmap, vmin=limits[0], vmax=limits[1], origin="lower",
                  extent=(dx[0] - 0.5, dx[-1] + 0.5, dy[0] - 0.5, dy[-1] + 0.5),
                  interpolation="nearest")
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])

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
                    axes[line, c].set_title(_label(bank, int(k)), fontsize=8)
            axes[line, 0].set_ylabel(name if p else f"{size(window)} px\n{name}", fontsize=8)
            if r == 0 and phi_window is not None:
                draw(axes[line, n_cols - 1], phi_space, phi_window, transform, cmap, symmetric)
                if p == 0:
                    axes[line, n_cols - 1].set_title(f"φ ({size(phi_window)} px)", fontsize=8)
    fig.supxlabel("spatial filters, centred (Re/Im: blue < 0 < red, same scale as |ψ|)",
                  fontsize=8)


def _fourier_2d(fig, bank, groups) -> None:
    from matplotlib.lines import Line2D

    fy, fx = (_frequencies(n) for n in bank.shape)
    extent = _edges(fx) + _edges(fy)
    magnitude = np.abs(np.fft.fftshift(bank.psi, axes=(1, 2)))
    peaks = magnitude.reshape(len(bank), -1).max(axis=1)
    normalised = magnitude / np.where(peaks > 0, peaks, 1.0)[:, None, None]
    axes = _stacked_axes(fig, 1 + len(groups), _PANEL_HEIGHT_2D)

    ax = axes[0]
    ax.imshow(normalised.max(axis=0), cmap="Greys", vmin=0, vmax=1, origin="lower", extent=extent,
              interpolation="nearest")
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
        handles.append(Line2D([], [], color="tab:red", ls="--", label="φ"))
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.7)
    ax.set_title("Fourier tiling: half-maximum contours\n(grey: max of |ψ̂_k| / max |ψ̂_k|)",
                 fontsize=9)
    ax.set_xlabel("ω₂ (cycles/sample)", fontsize=8)
    ax.set_ylabel("ω₁ (cycles/sample)", fontsize=8)
    ax.tick_params(labelsize=7)

    for ax, (name, sub) in zip(axes[1:], groups):
        lp = np.fft.fftshift(sub.littlewood_paley())
        # from 0: an absolute scale shows holes in the tiling, and a constant sum (a Parseval
        # frame) a uniform image rather than magnified rounding noise
        image = ax.imshow(lp, cmap="viridis", origin="lower", extent=extent,
                          vmin=min(0.0, lp.min()), vmax=max(lp.max(), 1e-300),
                          interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.85)
        low, high = float(lp.min()), float(lp.max())
        ax.set_title(f"Littlewood-Paley sum{' (' + name + ')' if name else ''}, real signals"
                     f"\nframe bounds A={low:.3g}, B={high:.3g}", fontsize=9)
        ax.set_xlabel("ω₂ (cycles/sample)", fontsize=8)
        ax.set_ylabel("ω₁ (cycles/sample)", fontsize=8)
        ax.tick_params(labelsize=7)


def _spatial_1d(fig, bank, rows, psi_space, phi_space, crop) -> None:
    cells: list = [int(k) for row in rows for k in row] + (["phi"] if phi_space is not None else [])
    n_cols = min(len(cells), _COLUMNS_1D)
    n_rows = math.ceil(len(cells) / n_cols)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.flat[len(cells):]:
        ax.set_axis_off()
    for ax, k in zip(axes.flat, cells):
        signal = phi_space if k == "phi" else psi_space[k]
        # each panel its own window: widths differ by orders of magnitude across a bank
        (window,), (offsets,) = _window([signal], bank.shape, crop)
        ax.plot(offsets, signal[window].real, lw=0.9, label="Re")
        ax.plot(offsets, signal[window].imag, lw=0.9, label="Im")
        ax.plot(offsets, np.abs(signal[window]), "k--", lw=0.8, label="|ψ|")
        ax.set_title("φ (low-pass)" if k == "phi" else _label(bank, k), fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6, loc="upper right")
    fig.supxlabel("spatial filters, centred (samples)", fontsize=8)


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
        ax.plot(freqs[keep], phi[keep], "--", color="tab:red", lw=1.2, label="|φ̂|²")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"|ψ̂_k|² (colour: {key})" + (f", {drawn.size} of {len(bank)} drawn"
                                               if drawn.size < len(bank) else ""), fontsize=9)
    ax.tick_params(labelsize=7)
    for ax, (name, sub) in zip(axes[1:], groups):
        lp = np.fft.fftshift(sub.littlewood_paley())
        low, high = float(lp.min()), float(lp.max())
        ax.plot(freqs[keep], lp[keep], "k", lw=1)
        ax.axhline(low, color="tab:blue", lw=0.8, ls=":")
        ax.axhline(high, color="tab:orange", lw=0.8, ls=":")
        ax.set_title(f"Littlewood-Paley sum{' (' + name + ')' if name else ''}, real signals:"
                     f" A={low:.3g}, B={high:.3g}", fontsize=9)
        ax.tick_params(labelsize=7)
    if log:
        axes[-1].set_xscale("log")
    axes[-1].set_xlabel("frequency (cycles/sample)" + (", positive half, log scale" if log
                                                       else ""), fontsize=8)


def _colormap(name: str):
    from matplotlib import colormaps

    return colormaps[name]
