"""How Gabor-like are a CNN's first-layer filters, and how close to an analytic filter bank?

:func:`first_layer_filters` extracts the weights of the first convolution of any torch module;
:func:`compare_filters` measures, for each learned filter, its Gabor fit, its best match in an
analytic bank (normalised correlation over the quadrature pair, allowing small shifts) and the
fraction of its energy in the span of the bank's filters cropped to the kernel size;
:func:`plot_comparison` draws learned filters next to their matches and both frequency coverages.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

__all__ = ["first_layer_filters", "compare_filters", "plot_comparison", "FilterComparison"]


# ------------------------------------------------------------------------- first-layer weights
def first_layer_filters(model: nn.Module, example_input: torch.Tensor | None = None) -> np.ndarray:
    """The weights of the first 2D convolution of a torch module.

    Parameters
    ----------
    model : nn.Module
        Any module: our nets, torchvision's AlexNet/VGG/ResNet (with weights loaded from disk), ...
    example_input : Tensor, optional
        A batch the model accepts. When given, the first convolution *executed* by a forward pass
        is returned (for modules whose layers are not registered in the order they run);
        otherwise the first ``Conv2d`` in registration order (``model.modules()``), which is the
        input layer of every sequential-style net.

    Returns
    -------
    ndarray, float64, shape (out_channels, in_channels / groups, kh, kw)
        A copy on the host. Transposed convolutions are returned in the same layout.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.
    ValueError
        If the model has no 2D convolution.

    Examples
    --------
    >>> from scatter import models
    >>> w = models.first_layer_filters(models.LeNet())
    >>> w.shape, w.dtype
    ((6, 1, 5, 5), dtype('float64'))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    conv_types = (nn.Conv2d, nn.ConvTranspose2d)
    layer = None
    if example_input is not None:
        seen: list[nn.Module] = []
        hooks = [m.register_forward_pre_hook(lambda mod, args: seen.append(mod))
                 for m in model.modules() if isinstance(m, conv_types)]
        try:
            with torch.no_grad():
                model(example_input)
        finally:
            for hook in hooks:
                hook.remove()
        layer = seen[0] if seen else None
    else:
        layer = next((m for m in model.modules() if isinstance(m, conv_types)), None)
    if layer is None:
        kinds = sorted({type(m).__name__ for m in model.modules()} - {type(model).__name__})
        raise ValueError(f"model {type(model).__name__} has no torch.nn.Conv2d layer"
                         f"{' run by example_input' if example_input is not None else ''} "
                         f"(its modules: {kinds or 'none'}); expected a 2D convolution")
    weight = layer.weight.detach()
    if isinstance(layer, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)
    return weight.to("cpu", torch.float64).numpy().copy()


# ------------------------------------------------------------------------------- the result
@dataclass
class FilterComparison:
    """Per-filter measurements of :func:`compare_filters` (``K`` learned filters of ``h x w``).

    Attributes
    ----------
    spatial : ndarray, float64, (K, h, w)
        The 2D filters compared (after the channel reduction).
    channel_fraction : ndarray, float64, (K,)
        Fraction of each filter's energy in its spatial profile (1 for one input channel; for
        ``reduce='svd'`` the share of the rank-1 colour x space term).
    gabor_r2 : ndarray (K,)
        R^2 of the Gabor fit (``filters.fit_gabor``); NaN when ``fit=False``.
    gabor_params : dict of ndarray (K,)
        The fitted parameters (``theta``, ``frequency`` in cycles/pixel, ``sigma_x``, ...).
    bandwidth : ndarray (K,)
        Half-magnitude frequency bandwidth of the fit along the carrier, in octaves (inf when the
        band reaches zero frequency).
    peak_frequency : ndarray, (K, 2)
        ``(fy, fx)`` in cycles/pixel of the peak of each filter's zero-padded power spectrum
        (model-free; ``fx`` along columns, ``fy`` along rows).
    correlation : ndarray (K,)
        Best normalised correlation with a bank filter: over bank filters, shifts, and phases
        (any combination of the filter's real and imaginary parts), ``max |<f, g>| / (|f| |g|)``.
    match_index : ndarray, int (K,)
        Index of the best bank filter (``len(bank)`` for the low-pass).
    match_shift : ndarray, int (K, 2)
        ``(dy, dx)`` offset of the bank window that matched best.
    match : ndarray, (K, h, w)
        The best-matching bank window (at the best phase), scaled to the learned filter's norm.
    span_energy : ndarray (K,)
        Fraction of the filter's energy in the span of the bank's filters cropped to ``h x w``
        (centred, real and imaginary parts, low-pass included).
    span_rank : int
        Dimension of that span (singular values above ``rcond`` times the largest).
    chance_span_energy : float
        ``span_rank / (h * w)``: the expected ``span_energy`` of a white-noise filter.
    bank_name : str
    bank_frequencies : ndarray, (M, 2)
        ``(fy, fx)`` peak frequency of each bank filter (cycles/pixel).
    bank_fourier : ndarray, (M, H, W)
        Moduli of the bank filters' DFTs on their grid (for the coverage plot).
    r2_threshold : float

    Examples
    --------
    >>> from scatter import filters, models
    >>> learned = filters.gabor_model((7, 7), x0=3, y0=3, theta=0.5, frequency=0.25, phase=0.0,
    ...                               sigma_x=1.5, sigma_y=1.5, amplitude=1.0)
    >>> cmp = models.compare_filters(learned, filters.morlet_2d((32, 32), J=2, L=4))
    >>> round(float(cmp.gabor_r2[0]), 3), cmp.bank_name
    (1.0, 'morlet')
    >>> summary = cmp.summary()                  # medians over the filters, as a dict
    >>> summary["n_filters"], summary["frac_gabor"]
    (1, 1.0)
    """

    spatial: np.ndarray
    channel_fraction: np.ndarray
    gabor_r2: np.ndarray
    gabor_params: dict
    bandwidth: np.ndarray
    peak_frequency: np.ndarray
    correlation: np.ndarray
    match_index: np.ndarray
    match_shift: np.ndarray
    match: np.ndarray = field(repr=False)
    span_energy: np.ndarray = field(repr=False)
    span_rank: int = 0
    chance_span_energy: float = 0.0
    bank_name: str = "custom"
    bank_frequencies: np.ndarray = field(default=None, repr=False)
    bank_fourier: np.ndarray = field(default=None, repr=False)
    r2_threshold: float = 0.8

    def __len__(self) -> int:
        return self.spatial.shape[0]

    def summary(self) -> dict:
        """Summary statistics over the layer.

        Returns
        -------
        dict
            ``n_filters``, ``kernel`` ``(h, w)``, ``frac_gabor`` (fraction with R^2 above
            ``r2_threshold``), ``median_r2``, ``median_correlation``, ``median_span_energy``,
            ``chance_span_energy``, ``span_rank``, ``median_frequency`` and
            ``median_bandwidth`` (of the fits above the threshold; NaN if none),
            ``frac_lowpass_match``, ``median_channel_fraction``.
        """
        good = self.gabor_r2 > self.r2_threshold
        nan = float("nan")
        fitted = bool(np.isfinite(self.gabor_r2).all())
        freq = self.gabor_params.get("frequency", np.full(len(self), np.nan))
        return {
            "n_filters": len(self),
            "kernel": tuple(self.spatial.shape[1:]),
            "frac_gabor": float(np.mean(good)) if fitted else nan,
            "median_r2": float(np.median(self.gabor_r2)),
            "median_correlation": float(np.median(self.correlation)),
            "median_span_energy": float(np.median(self.span_energy)),
            "chance_span_energy": float(self.chance_span_energy),
            "span_rank": int(self.span_rank),
            "median_frequency": float(np.median(freq[good])) if good.any() else nan,
            "median_bandwidth": float(np.median(self.bandwidth[good])) if good.any() else nan,
            "frac_lowpass_match": float(np.mean(self.match_index == len(self.bank_frequencies))),
            "median_channel_fraction": float(np.median(self.channel_fraction)),
        }

    def plot(self, max_filters: int = 32, **kwargs):
        """Draw the comparison; see :func:`plot_comparison`."""
        return plot_comparison(self, max_filters=max_filters, **kwargs)


# ----------------------------------------------------------------------------- the comparison
def compare_filters(learned, bank, *, reduce: str = "svd", max_shift: int = 1,
                    include_lowpass: bool = True, fit: bool = True, rcond: float = 1e-2,
                    r2_threshold: float = 0.8) -> FilterComparison:
    """Compare learned 2D filters with an analytic filter bank.

    For each learned filter ``f`` (``h x w``):

    - **Gabor fit** (``filters.fit_gabor``): R^2, orientation, frequency, envelope widths and the
      frequency bandwidth in octaves (Ringach 2002, J. Neurophysiol. 88:455, measures V1
      receptive fields the same way).
    - **Best match**: the bank's spatial filters (centred on their grid) are cut into ``h x w``
      windows at offsets up to ``max_shift`` pixels from the centre; for each bank filter ``g``
      and offset, the correlation is ``max |<f, a Re g + b Im g>| / (|f| |a Re g + b Im g|)``
      over ``(a, b)``, i.e. over the phase of the quadrature pair (it is the norm of ``f``'s
      projection on the 2D span of the windowed pair, divided by ``|f|``). The low-pass counts
      as a bank filter when ``include_lowpass``.
    - **Span energy**: ``|P f|^2 / |f|^2`` with ``P`` the orthogonal projection on the span of
      all centred windows (real and imaginary parts, each normalised; directions with singular
      value below ``rcond`` times the largest are dropped). A small kernel is spanned by a large
      bank whatever it holds, so compare with :attr:`FilterComparison.chance_span_energy`.

    Parameters
    ----------
    learned : nn.Module, Tensor or ndarray
        A module (its :func:`first_layer_filters`), or weights of shape ``(K, C, h, w)``,
        ``(K, h, w)`` or ``(h, w)``; ``h, w >= 3``.
    bank : filters.FilterBank or ndarray
        A 2D bank whose grid is at least ``(h + 2 max_shift, w + 2 max_shift)``; build it on a
        grid large enough that its widest filter is not periodised (e.g. 64 x 64 for Morlet
        J=3), only the central windows are used. Or an array ``(M, H, W)`` of spatial filters
        (real or complex) centred on their grid (at index ``H // 2, W // 2``).
    reduce : {'svd', 'mean', 'channels'}
        How multi-channel filters become 2D: the spatial factor of the best rank-1 (colour x
        space) approximation, scaled by its singular value (``'svd'``, sign chosen so that the
        colour weights sum to a positive number); the channel mean (``'mean'``, luminance); or
        every channel as its own filter (``'channels'``, ``K * C`` filters).
    max_shift : int
        Largest offset (pixels, each axis) of the bank windows in the best-match search.
    include_lowpass : bool
        Count the bank's low-pass among the candidates and in the span.
    fit : bool
        Fit Gabors (``False`` skips the fit; R^2 and parameters are then NaN).
    rcond : float
        Relative singular-value cut-off of the span.
    r2_threshold : float
        R^2 above which a filter counts as Gabor-like in :meth:`FilterComparison.summary`.

    Returns
    -------
    FilterComparison

    Raises
    ------
    TypeError
        If ``learned`` or ``bank`` has an unsupported type.
    ValueError
        If the shapes are unsupported or the bank's grid is smaller than the kernel plus shifts.

    Examples
    --------
    Two Gabor "learned" filters against a Morlet bank (``fit=False`` skips the Gabor fit):

    >>> from scatter import filters, models
    >>> learned = filters.gabor_model((7, 7), x0=3, y0=3, theta=[0.0, 0.8], frequency=0.25,
    ...                               phase=0.0, sigma_x=1.5, sigma_y=1.5, amplitude=1.0)
    >>> bank = filters.morlet_2d((32, 32), J=2, L=4)
    >>> cmp = models.compare_filters(learned, bank, fit=False)
    >>> cmp.spatial.shape, cmp.correlation.shape, cmp.match_shift.shape
    ((2, 7, 7), (2,), (2, 2))
    >>> bool((cmp.correlation > 0.9).all())      # both are close to a Morlet wavelet
    True
    """
    if reduce not in ("svd", "mean", "channels"):
        raise ValueError(f"reduce must be one of ['svd', 'mean', 'channels'], got {reduce!r}")
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
    if not 0 < rcond < 1:
        raise ValueError(f"rcond must lie in (0, 1), got {rcond!r}")
    spatial, channel_fraction = _learned_2d(learned, reduce)
    K, h, w = spatial.shape
    atoms, owner, n_bank, n_psi, name, bank_fourier = _bank_atoms(bank, include_lowpass)
    H, W = atoms.shape[1:]
    s = int(max_shift)
    if H < h + 2 * s or W < w + 2 * s:
        raise ValueError(f"bank grid {(H, W)} is too small for {h}x{w} filters with max_shift={s}: "
                         f"it must be at least {(h + 2 * s, w + 2 * s)}; build the bank on a "
                         f"larger grid")

    # ---- best match over bank filters, offsets and quadrature phase
    top, left = H // 2 - h // 2 - s, W // 2 - w // 2 - s
    region = atoms[:, top:top + h + 2 * s, left:left + w + 2 * s]             # (A, h+2s, w+2s)
    windows = np.lib.stride_tricks.sliding_window_view(region, (h, w), axis=(1, 2))
    n_off = 2 * s + 1
    windows = windows.reshape(len(atoms), n_off * n_off, h * w)                # (A, S, hw)
    flat = spatial.reshape(K, h * w)
    norms = np.linalg.norm(flat, axis=1)
    corr = np.zeros((K, n_bank, n_off * n_off))
    coef = np.zeros((K, n_bank, n_off * n_off, 2))
    for m in range(n_bank):
        idx = np.flatnonzero(owner == m)                                       # 1 or 2 atoms
        if idx.size == 0:
            continue
        basis = windows[idx].transpose(1, 2, 0)                                # (S, hw, p)
        gram = basis.transpose(0, 2, 1) @ basis                                # (S, p, p)
        proj = np.einsum("kh,shp->ksp", flat, basis)                           # (K, S, p)
        inv = np.linalg.pinv(gram, rcond=1e-10, hermitian=True)               # (S, p, p)
        c = np.einsum("spq,ksq->ksp", inv, proj)                               # (K, S, p)
        energy = np.einsum("ksp,ksp->ks", c, proj)
        corr[:, m] = np.sqrt(np.clip(energy, 0, None)) / np.where(norms > 0, norms, 1)[:, None]
        coef[:, m, :, :len(idx)] = c
    best = corr.reshape(K, -1).argmax(axis=1)
    match_index, offset = np.divmod(best, n_off * n_off)
    correlation = corr.reshape(K, -1)[np.arange(K), best]
    match_shift = np.stack(np.divmod(offset, n_off), axis=1) - s
    match = np.zeros_like(spatial)
    for k in range(K):
        idx = np.flatnonzero(owner == match_index[k])
        g = np.einsum("p,ph->h", coef[k, match_index[k], offset[k], :len(idx)],
                      windows[idx, offset[k]])
        g_norm = np.linalg.norm(g)
        match[k] = (g * norms[k] / g_norm if g_norm > 0 else g).reshape(h, w)

    # ---- energy in the span of the centred windows
    centre = windows[:, (n_off * n_off) // 2]                                  # (A, hw)
    centre = centre / np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-300)
    u, sv, _ = np.linalg.svd(centre.T, full_matrices=False)
    rank = int(np.sum(sv > rcond * sv[0])) if sv.size and sv[0] > 0 else 0
    basis = u[:, :rank]
    span_energy = (np.linalg.norm(flat @ basis, axis=1) ** 2
                   / np.where(norms > 0, norms ** 2, 1))

    # ---- Gabor fits and model-free peak frequencies
    if fit:
        gabor = _fit_gabor()(spatial)
        r2, params = np.asarray(gabor.r2, dtype=np.float64), dict(gabor.params)
        bandwidth = _octave_bandwidth(params["frequency"], params["sigma_x"])
    else:
        r2 = np.full(K, np.nan)
        params = {}
        bandwidth = np.full(K, np.nan)
    peak = _peak_frequency(spatial, pad=max(64, 4 * max(h, w)))
    bank_freq = _peak_frequency_fourier(bank_fourier[:n_psi])
    return FilterComparison(
        spatial=spatial, channel_fraction=channel_fraction, gabor_r2=r2, gabor_params=params,
        bandwidth=bandwidth, peak_frequency=peak, correlation=correlation,
        match_index=match_index, match_shift=match_shift, match=match, span_energy=span_energy,
        span_rank=rank, chance_span_energy=rank / (h * w), bank_name=name,
        bank_frequencies=bank_freq, bank_fourier=bank_fourier, r2_threshold=float(r2_threshold))


def _fit_gabor():
    """``filters.fit_gabor``, imported when first needed (it lives in another module)."""
    try:
        from ..filters import fit_gabor
    except ImportError:
        from ..filters.gabor_fit import fit_gabor
    return fit_gabor


def _learned_2d(learned, reduce: str) -> tuple[np.ndarray, np.ndarray]:
    """Learned weights as (K, h, w) float64 and the fraction of energy each 2D profile keeps."""
    if isinstance(learned, nn.Module):
        weights = first_layer_filters(learned)
    elif torch.is_tensor(learned):
        weights = learned.detach().to("cpu", torch.float64).numpy()
    elif isinstance(learned, np.ndarray):
        weights = learned
    else:
        raise TypeError(f"learned must be an nn.Module, a Tensor or an ndarray, got "
                        f"{type(learned).__name__}")
    if np.iscomplexobj(weights) or not np.issubdtype(weights.dtype, np.number):
        raise TypeError(f"learned filters must be real numbers, got dtype {weights.dtype}")
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 2:
        weights = weights[None, None]
    elif weights.ndim == 3:
        weights = weights[:, None]
    if weights.ndim != 4:
        raise ValueError(f"learned filters must have shape (K, C, h, w), (K, h, w) or (h, w), got "
                         f"{weights.shape}")
    K, C, h, w = weights.shape
    if K == 0 or C == 0:
        raise ValueError(f"learned filters hold no filter: shape {weights.shape}")
    if h < 3 or w < 3:
        raise ValueError(f"learned filters must be at least 3x3 pixels to compare, got {h}x{w}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("learned filters contain NaN or inf values")
    total = np.maximum((weights ** 2).sum(axis=(1, 2, 3)), 1e-300)
    if C == 1:
        return weights[:, 0].copy(), np.ones(K)
    if reduce == "channels":
        return weights.reshape(K * C, h, w).copy(), np.ones(K * C)
    if reduce == "mean":
        spatial = weights.mean(axis=1)
        # Energy kept by projecting the colour weights onto the grey direction (1, ..., 1)/sqrt(C).
        return spatial, (C * (spatial ** 2).sum(axis=(1, 2))) / total
    u, sv, vt = np.linalg.svd(weights.reshape(K, C, h * w), full_matrices=False)
    sign = np.where(u[:, :, 0].sum(axis=1) < 0, -1.0, 1.0)
    spatial = (sign * sv[:, 0])[:, None] * vt[:, 0]
    return spatial.reshape(K, h, w), sv[:, 0] ** 2 / total


def _bank_atoms(bank, include_lowpass: bool):
    """Real spatial atoms (A, H, W), the bank filter each belongs to (A,), the number of bank
    filters (band-pass and low-pass) and of band-pass filters, the bank's name and the moduli of
    the filters' DFTs (M, H, W)."""
    from ..filters import FilterBank

    if isinstance(bank, FilterBank):
        if bank.ndim != 2:
            raise ValueError(f"bank must be a 2D filter bank, got one on a {bank.ndim}D grid "
                             f"{bank.shape}")
        psi, phi = bank.spatial(centered=True)
        n_psi = len(psi)
        fourier = [np.abs(bank.psi)]
        if include_lowpass and phi is not None:
            psi = np.concatenate([psi, phi[None].astype(np.complex128)])
            fourier.append(np.abs(bank.phi)[None])
        name = bank.name
        fourier = np.concatenate(fourier)
    elif isinstance(bank, np.ndarray):
        if bank.ndim != 3 or bank.shape[0] == 0 or not np.issubdtype(bank.dtype, np.number):
            raise ValueError(f"bank array must hold spatial filters of shape (M, H, W), got "
                             f"{bank.shape} {bank.dtype}")
        psi = bank.astype(np.complex128)
        n_psi = len(psi)
        name = "custom"
        fourier = np.abs(np.fft.fft2(np.fft.ifftshift(psi, axes=(1, 2))))
    else:
        raise TypeError(f"bank must be a filters.FilterBank or an ndarray (M, H, W), got "
                        f"{type(bank).__name__}")
    if not np.all(np.isfinite(psi)):
        raise ValueError("bank filters contain NaN or inf values")
    atoms, owner = [], []
    for m, g in enumerate(psi):
        scale = max(np.abs(g).max(), 1e-300)
        for part in (g.real, g.imag):
            # A part that is zero to rounding (the imaginary part of a real filter) is no atom.
            if np.abs(part).max() > 1e-8 * scale:
                atoms.append(part)
                owner.append(m)
    if not atoms:
        raise ValueError("bank filters are all zero")
    return np.stack(atoms), np.asarray(owner), len(psi), n_psi, name, fourier


def _octave_bandwidth(frequency: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Half-magnitude bandwidth in octaves of a Gabor with envelope ``sigma`` (pixels) along its
    carrier of ``frequency`` (cycles/pixel): the spectrum ``exp(-2 pi^2 sigma^2 (f - f0)^2)``
    halves at ``f0 +- df`` with ``df = sqrt(ln 2 / 2) / (pi sigma)``."""
    df = np.sqrt(np.log(2) / 2) / (np.pi * np.asarray(sigma, dtype=np.float64))
    f = np.asarray(frequency, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > df, np.log2((f + df) / np.where(f > df, f - df, 1.0)), np.inf)


def _peak_frequency(spatial: np.ndarray, pad: int) -> np.ndarray:
    """``(fy, fx)`` (cycles/pixel) of the peak of each filter's zero-padded power spectrum,
    chosen in the half-plane ``fx > 0 or (fx == 0 and fy >= 0)`` (real filters are symmetric)."""
    power = np.abs(np.fft.fft2(spatial, s=(pad, pad))) ** 2
    return _peak_frequency_fourier(power, half_plane=True)


def _peak_frequency_fourier(fourier: np.ndarray, half_plane: bool = False) -> np.ndarray:
    M, H, W = fourier.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(H), np.fft.fftfreq(W), indexing="ij")
    values = fourier.reshape(M, -1)
    if half_plane:
        keep = ((fx > 0) | ((fx == 0) & (fy >= 0))).ravel()
        values = np.where(keep, values, -np.inf)
    best = values.argmax(axis=1)
    return np.stack([fy.ravel()[best], fx.ravel()[best]], axis=1)


# ---------------------------------------------------------------------------------- the figure
def plot_comparison(comparison: FilterComparison, max_filters: int = 32, title: str | None = None):
    """Learned filters next to their best analytic matches, and the frequency-plane coverage.

    Left: pairs (learned | best bank window at the best phase and shift), labelled with the
    correlation and the Gabor R^2. Right: the bank's half-maximum contours in the frequency
    plane (cycles/pixel) and each learned filter's spectral peak (with its mirror image, as the
    filters are real), coloured by R^2.

    Parameters
    ----------
    comparison : FilterComparison
        What :func:`compare_filters` returned.
    max_filters : int
        Most pairs drawn (the first ``max_filters`` filters).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from scatter import filters, models
    >>> learned = filters.gabor_model((7, 7), x0=3, y0=3, theta=[0.0, 0.8], frequency=0.25,
    ...                               phase=0.0, sigma_x=1.5, sigma_y=1.5, amplitude=1.0)
    >>> cmp = models.compare_filters(learned, filters.morlet_2d((32, 32), J=2, L=4), fit=False)
    >>> fig = models.plot_comparison(cmp, max_filters=2)        # save with fig.savefig(path)
    """
    from matplotlib.figure import Figure

    from ..filters import _style as style

    if not isinstance(comparison, FilterComparison):
        raise TypeError(f"comparison must be a FilterComparison, got {type(comparison).__name__}")
    n = min(len(comparison), int(max_filters))
    cols = max(1, min(n, 8))
    rows = -(-n // cols)
    pairs_w, pairs_h = 1.45 * cols, 0.95 * rows + 1.2
    fig = Figure(figsize=(pairs_w + 5.0, max(pairs_h, 4.6) + 0.5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[pairs_w, 5.0], wspace=0.03)
    axes = left.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    shown = None
    for i in range(n):
        ax = axes[i // cols, i % cols]
        f, g = comparison.spatial[i], comparison.match[i]
        vmax = max(np.abs(f).max(), np.abs(g).max(), 1e-12)
        gap = np.full((f.shape[0], 1), np.nan)
        shown = ax.imshow(np.concatenate([f, gap, g], axis=1) / vmax, cmap=style.SIGNED,
                          vmin=-1, vmax=1, interpolation="nearest")
        ax.set_axis_on()
        r2 = comparison.gabor_r2[i]
        ax.set_title(f"$c={comparison.correlation[i]:.2f}$" +
                     (f", $R^2={r2:.2f}$" if np.isfinite(r2) else ""), fontsize=8)
        ax.set_xticks([f.shape[1] / 2 - 0.5, f.shape[1] + g.shape[1] / 2 + 0.5])
        ax.set_xticklabels(["learned", "match"] if i < cols else ["", ""], fontsize=7)
        ax.tick_params(length=0)
        ax.set_yticks([])
    if shown is not None:
        style.colorbar(left, shown, list(axes.flat), label="weight / max $|\\cdot|$ of the pair",
                       location="bottom", shrink=0.5, aspect=30)
    bank_name = style.family(comparison.bank_name)
    left.suptitle(f"each pair: a learned filter (left) and its best {bank_name} "
                  f"match (right, best phase and shift)", fontsize=9)

    ax = right.subplots()
    fourier = comparison.bank_fourier
    n_psi = len(comparison.bank_frequencies)
    if fourier is not None and n_psi:
        H, W = fourier.shape[1:]
        fy = np.fft.fftshift(np.fft.fftfreq(H))
        fx = np.fft.fftshift(np.fft.fftfreq(W))
        for g in fourier[:n_psi]:
            # The real and imaginary parts of a filter cover its band and the mirror band.
            for band in (g, _flip(g)):
                band = np.fft.fftshift(band)
                if band.max() > 0:
                    ax.contour(fx, fy, band / band.max(), levels=[0.5], colors="0.55",
                               linewidths=0.7)
    peaks = comparison.peak_frequency[:len(comparison)]
    r2 = comparison.gabor_r2
    colour = r2 if np.isfinite(r2).all() else np.zeros(len(comparison))
    for sign in (1, -1):
        sc = ax.scatter(sign * peaks[:, 1], sign * peaks[:, 0], c=colour, cmap=style.SUM,
                        vmin=0, vmax=1, s=18, edgecolors="k", linewidths=0.3)
    style.colorbar(right, sc, ax, label="Gabor fit $R^2$")
    ax.set_xlim(-0.5, 0.5)
    ax.set_ylim(-0.5, 0.5)       # the library's frequency planes: omega_1 up
    ax.set_aspect("equal")
    ax.set_xlabel(style.OMEGA_2.replace("sample", "pixel"), fontsize=8)
    ax.set_ylabel(style.OMEGA_1.replace("sample", "pixel"), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(f"{bank_name}: half-maximum contours (grey);\n"
                 f"learned filters' spectral peaks (dots)", fontsize=9)
    summary = comparison.summary()
    fig.suptitle(title or (f"{len(comparison)} learned {summary['kernel'][0]}x"
                           f"{summary['kernel'][1]} filters against {bank_name}: median "
                           f"correlation {summary['median_correlation']:.2f}, Gabor-like "
                           f"($R^2>{comparison.r2_threshold:g}$) {summary['frac_gabor']:.0%}"),
                 fontsize=12)
    return fig


def _flip(g: np.ndarray) -> np.ndarray:
    """``g(-w)`` on the DFT grid."""
    return np.roll(np.flip(g, axis=(0, 1)), 1, axis=(0, 1))
