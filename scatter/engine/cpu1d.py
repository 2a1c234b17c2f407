"""The CPU inference engine of :class:`scatter.Scattering1D`.

It computes :func:`scatter.core.cascade1d` for CPU inference (no autograd), faster:

- real FFTs of the input and of the moduli (half spectra); band-pass products read one window
  of frequencies shared by all filters of a scale (a view, no gather), folded with a circular
  shift that the modulus removes (see ``_window_plan``);
- the second-order low-pass, subsampling and unpadding are one matrix product per scale pair
  (no FFT pair); short second-order maps of a scale share one product and FFT;
- products and moduli reuse two buffers, kept per thread between calls; inverse FFTs run in
  place (MKL's where torch is built on it, else SciPy's pocketfft) and moduli use NumPy's SIMD
  complex ``abs``;
- the batch runs in chunks, side by side on worker threads of one intra-op thread each
  (:mod:`scatter._parallel`).
"""
from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np
import torch

from .._design import lowpass_matrix
from .._design import periodise as _periodise
from .._parallel import chunk_count, chunk_workers, map_chunks
from .fourier import Workspace as _Workspace
from .fourier import ifft_in_place, modulus


# Fourier samples of a filter below this fraction of its peak are left out of the products (a
# Morlet filter's Gaussian tails run down to 1e-300): each dropped term changes the result by
# less than 1e-18 of the largest one, far below float64 rounding of the sums it enters.
_CROP = 1e-18

# Second-order groups of a scale whose maps have at most this many samples are computed together,
# at the largest of their lengths (exactly: a map at a finer resolution, sampled every few
# samples, is the map at the coarser one): fewer, larger operations (each op has a fixed cost:
# a kernel launch on GPU, an OpenMP barrier on CPU) for a few percent more FFT work.
_MERGE_BELOW = 4096


class _Fold(NamedTuple):
    """A gather plan (see _fold_plan): fold of ``spectrum * h`` onto the half output spectrum."""

    index: str      # buffer name: int64 (K * c * m,) bins of the input half spectrum
    weight: str     # buffer name: real (K, c, m, 2) [h, s*h] / f, or complex (K, c, m) h / f
    sign: str | None  # complex filters only: buffer (K, c, m, 2) of [1, s]
    shape: tuple    # (K, c, m)


class _Window(NamedTuple):
    """A window plan (see _window_plan): fold of ``spectrum * h``, circularly shifted."""

    mode: str       # 'slice' (bins of the half spectrum), 'split' (plus a few negative bins) or
                    # 'extended' (any bins, from an extended spectrum, see _extend)
    start: int      # first signed frequency bin of the window
    shape: tuple    # (K, c, m)
    weight: str     # buffer name: complex (K, c, m), h / (f m) on the window
                    # ('split': (K, 1, m + e), positive then negative bins)


def _arc(h: np.ndarray) -> tuple[int, int]:
    """Smallest circular arc ``[start, start + width)`` of bins where ``|h|`` is not negligible."""
    M = h.size
    mag = np.abs(h)
    keep = np.flatnonzero(mag > _CROP * mag.max()) if mag.max() > 0 else np.zeros(1, dtype=int)
    gaps = np.diff(np.append(keep, keep[0] + M))   # the arc is the complement of the largest gap
    g = int(np.argmax(gaps))
    start = int(keep[(g + 1) % keep.size])
    return (start - M if start > M // 2 else start), int(M - gaps[g] + 1)


def _fold_plan(h: np.ndarray, factor: int, half_output: bool):
    """Gather plan computing ``mean_i (X h)[k + i m]`` (Fourier subsampling) from half a spectrum.

    ``X`` is the spectrum of a real signal of length ``M`` of which only ``X[0 .. M/2]`` is kept
    (``rfft``); ``X[M - b] = conj(X[b])``. Subsampling by ``f = factor`` folds the length-``M``
    product onto ``m = M / f`` bins, each the mean of ``f`` aliases. The samples of ``h`` that are
    not negligible (see ``_CROP``) lie in a circular window of ``w`` bins; with ``c = ceil(w / m)``
    the fold needs ``c`` aliases per output bin instead of ``f``: one gather of ``c m`` bins.

    Parameters
    ----------
    h : ndarray, float64 or complex128, shape (K, M)
    factor : int, a power of two dividing M
    half_output : bool
        Keep only output bins ``0 .. m/2`` (the fold of a Hermitian product, for ``irfft``).

    Returns
    -------
    index : int64 (K, c, mo), bins of the half spectrum to gather
    sign : float64 (K, c, mo), -1 where the bin stands for a negative frequency (conjugate)
    weight : (K, c, mo), ``h / f`` at each gathered bin
    """
    K, M = h.shape
    m = M // factor
    mo = m // 2 + 1 if half_output else m
    arcs = [_arc(row) for row in h]
    starts = np.array([a for a, _ in arcs]) % M
    c = int(max(1, min(factor, max(-(-w // m) for _, w in arcs))))
    out = np.arange(mo)
    # bin a + ((k' - a) mod m) + i m is the i-th alias of output bin k' inside the window
    bins = (starts[:, None, None] + (out[None, None, :] - starts[:, None, None]) % m
            + m * np.arange(c)[None, :, None]) % M
    negative = bins > M // 2
    index = np.where(negative, M - bins, bins)
    sign = np.where(negative, -1.0, 1.0)
    weight = np.take_along_axis(h[:, None, :], bins.reshape(K, 1, -1), axis=-1)
    weight = weight.reshape(K, c, mo) / factor
    return index.astype(np.int64), sign, weight


def _window_plan(h: np.ndarray, factor: int):
    """One window of frequencies, shared by a group of filters, for ``|ifft(fold(X h))|``.

    The non-negligible bins of every filter of the group lie in the signed range
    ``[start, start + c m)`` (``m = M / factor``). Summing ``X h / f`` over the ``c`` blocks of
    ``m`` bins of that range gives the Fourier subsampling of ``X h`` circularly shifted by
    ``start mod m``: a shift in frequency is a phase in time, which the modulus removes. The
    product is then one broadcast multiply of a slice of ``X`` (no gather, no scatter). Weights
    include the ``1 / m`` of the inverse FFT (computed with ``norm='forward'``).

    Modes: ``'slice'`` when the range lies in ``[0, M/2]`` (a view of the half spectrum);
    ``'split'`` when it starts at ``-e < 0`` with ``c = 1`` and ``m <= M/2``: the unshifted fold is
    the product on bins ``0 .. m-1`` whose last ``e`` outputs are the ``e`` negative bins,
    ``conj(X[e .. 1])`` (weights ``(K, 1, m + e)``: positive part, then negative part);
    ``'extended'`` otherwise (the range is read from :func:`_extend`).

    Returns
    -------
    mode : str, start : int, c : int, weight : ndarray (K, c, m) or (K, 1, m + e)
    """
    K, M = h.shape
    m = M // factor
    arcs = [_arc(row) for row in h]
    start = min(a for a, _ in arcs)
    width = max(a + w for a, w in arcs) - start
    if width > M:  # the group covers the whole circle
        start, width = 0, M
    c = max(1, -(-width // m))
    bins = (start + np.arange(c * m)) % M
    weight = h[:, bins].reshape(K, c, m) / (factor * m)
    if 0 <= start and start + c * m <= M // 2 + 1:
        return "slice", start, c, weight
    if start < 0 and c == 1 and m <= M // 2:
        e = -start
        split = np.zeros((K, 1, m + e), dtype=weight.dtype)
        split[:, 0, :m - e] = weight[:, 0, e:]        # bins 0 .. m - e - 1
        split[:, 0, m:] = weight[:, 0, :e]            # bins -e .. -1
        return "split", start, c, split
    return "extended", start, c, weight


def _extend(spectrum: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Signed frequency bins ``lo .. hi - 1`` of a real signal's spectrum from its half ``rfft``.

    ``spectrum`` (..., M/2 + 1) holds bins ``0 .. M/2``; bin ``b`` is ``spectrum[b mod M]`` or,
    past ``M/2``, ``conj(spectrum[M - b mod M])``. Returns the bins in order, one copy at most.
    """
    H = spectrum.shape[-1]
    M = 2 * (H - 1)
    if lo == 0 and hi == H:
        return spectrum
    pieces, b = [], lo
    while b < hi:
        r = b % M
        if r <= M // 2:                    # direct run r .. min(M/2, ...)
            n = min(M // 2 - r + 1, hi - b)
            pieces.append(spectrum[..., r:r + n])
        else:                              # conjugate run: bins M - r, M - r - 1, ...
            n = min(M - r, hi - b)
            pieces.append(spectrum[..., M - r - n + 1:M - r + 1].flip(-1).conj())
        b += n
    return torch.cat(pieces, dim=-1) if len(pieces) > 1 else pieces[0].resolve_conj()


def _fft(kind: str, x: torch.Tensor, n: int | None = None, overwrite: bool = False) -> torch.Tensor:
    """``torch.fft.<kind>`` over the last axis; ``'ifft'`` with ``norm='forward'`` (no ``1/n``:
    the window weights carry it).

    ``overwrite`` (the caller no longer needs ``x``, and no autograd): the complex inverse FFT
    runs in place (:func:`ifft_in_place`: MKL's where torch carries it, else SciPy's; on CPU up to
    twice as fast as torch's out-of-place FFT for these shapes, most of that the page faults of
    a fresh output; benchmarks/RESULTS.md).
    """
    if overwrite and kind == "ifft" and not x.requires_grad:
        return ifft_in_place(x, 1, norm="forward")
    return getattr(torch.fft, kind)(x, n=n, norm="forward" if kind == "ifft" else "backward")


def _modulus_into(z: torch.Tensor, workspace: _Workspace | None) -> torch.Tensor:
    """:func:`modulus` of ``z``, written into ``workspace`` when one is given (no autograd)."""
    out = None if workspace is None else workspace.take(z.shape, z.real.dtype, z.device)
    return modulus(z, out)



class CpuEngine1D:
    """:func:`scatter.core.cascade1d` for CPU inference, on a network's plan, in one dtype.

    Parameters
    ----------
    plan : scatter.scattering1d.Plan1D
        The network's parameters, padding, bank and paths (float64 designs).
    dtype : torch.dtype
        float32 or float64.
    pad_index : Tensor, int64
        The input index of every padded sample (reflection padding).
    """

    # Bound on a CPU pass's largest inverse FFT (maps x length, as in fft_floor_shapes), in complex
    # values: 16 signals of 65536 samples (J=10, Q=8) go in two passes of 8, which halves the peak
    # memory for about 10% more time.
    _CPU_TARGET = 1 << 24

    def __init__(self, plan, dtype: torch.dtype, pad_index: torch.Tensor) -> None:
        self.plan = plan
        self.dtype = dtype
        self._pad_index = pad_index
        self._tensors: dict[str, torch.Tensor] = {}
        self._complex: set[str] = set()
        self._local = threading.local()  # work buffers of each calling thread
        # the parameters the plans below are built from
        self.bank, self.N, self.N_padded = plan.bank, plan.N, plan.N_padded
        self.pad_left, self.log2_T, self.oversampling = plan.pad_left, plan.log2_T, plan.oversampling
        self.average, self.max_order = plan.average, plan.max_order
        self._build()

    def _add_filter(self, name: str, design: np.ndarray) -> None:
        """Keep a float64 (or complex128) design as a tensor of the engine's dtype; complex ones
        as a trailing (re, im) axis (see ``_filter``)."""
        design = np.ascontiguousarray(design)
        if np.iscomplexobj(design):
            design = np.stack([design.real, design.imag], axis=-1)
            self._complex.add(name)
        self._tensors[name] = torch.from_numpy(np.ascontiguousarray(design)).to(self.dtype)

    def _filter(self, name: str) -> torch.Tensor:
        """The filter ``name`` as used in products: real, or complex for complex designs."""
        t = self._tensors[name]
        return torch.view_as_complex(t) if name in self._complex else t

    def _register_fold(self, name: str, h: np.ndarray, factor: int, half_output: bool) -> _Fold:
        """Register the gather plan of filters ``h`` (K, M) under ``name`` once."""
        if name in self._plans:
            return self._plans[name]
        index, sign, weight = _fold_plan(h, factor, half_output)
        self._tensors[f"{name}_idx"] = torch.from_numpy(index.reshape(-1))
        if np.iscomplexobj(weight):
            self._add_filter(f"{name}_w", weight)
            self._add_filter(f"{name}_s", np.stack([np.ones_like(sign), sign], axis=-1))
            plan = _Fold(f"{name}_idx", f"{name}_w", f"{name}_s", weight.shape)
        else:
            self._add_filter(f"{name}_w", np.stack([weight, sign * weight], axis=-1))
            plan = _Fold(f"{name}_idx", f"{name}_w", None, weight.shape)
        self._plans[name] = plan
        return plan

    def _register_window(self, name: str, h: np.ndarray, factor: int) -> _Window:
        """Register the window plan of filters ``h`` (K, M) under ``name`` once."""
        if name not in self._plans:
            mode, start, c, weight = _window_plan(h, factor)
            self._add_filter(name, weight.astype(np.complex128))
            self._plans[name] = _Window(mode, start, (len(h), c, h.shape[-1] // factor), name)
        return self._plans[name]

    def _sub(self, j: int, k_before: int = 0) -> int:
        """Subsampling exponent after a filter of scale ``j`` on maps subsampled by 2**k_before."""
        return max((min(j, self.log2_T) if self.average else j) - k_before - self.oversampling, 0)

    def _build(self) -> None:
        """Group the filters by scale and register every product as a plan (float64 designs)."""
        bank = self.bank
        self._plans: dict = {}
        orders = np.asarray(bank.meta.get("order", np.zeros(len(bank), dtype=int)))
        js = bank.meta["j"].astype(int)
        first, second = np.flatnonzero(orders != 2), np.flatnonzero(orders != 1)
        self._first_index, self._second_index = first, second  # bank rows, in n order
        L, kt = self.log2_T, max(self.log2_T - self.oversampling, 0)
        # the low-pass only enters through its Hermitian part (the output is the real part)
        phi = 0.5 * (bank.phi + np.conj(np.roll(bank.phi[::-1], 1)))
        phi = phi if np.iscomplexobj(bank.phi) else phi.real

        def lowpass(res: int) -> _Fold:
            kJ = max(L - res - self.oversampling, 0)
            return self._register_fold(f"_phi_{res}_{kJ}", _periodise(phi, res)[None], 2 ** kJ,
                                       True)

        def lowpass_plan(res: int, stride: int) -> str:
            """Low-pass matrix for maps at resolution ``2**res`` given ``stride`` times finer."""
            name, kJ = f"_phimat_{res}_{stride}", max(L - res - self.oversampling, 0)
            if name not in self._plans:
                i0, i1 = self._unpad_bounds(res + kJ)
                P = lowpass_matrix(_periodise(phi, res), 2 ** kJ, i0, i1 - i0)
                if stride > 1:  # zero rows: only every stride-th sample enters
                    finer = np.zeros((P.shape[0] * stride, P.shape[1]), dtype=P.dtype)
                    finer[::stride] = P
                    P = finer
                self._add_filter(name, P)
                self._plans[name] = name
            return name

        def span(plans) -> tuple[int, int] | None:
            """Signed bins the 'extended' plans read (None: the half spectrum is enough)."""
            plans = [p for p in plans if p.mode == "extended"]
            if not plans:
                return None
            return (min(p.start for p in plans),
                    max(p.start + p.shape[1] * p.shape[2] for p in plans))

        self._order0 = lowpass(0) if self.average else None
        rows1, rows2 = [(0, ())], []        # (order, n) of every path in computing order
        self._groups = []
        for j1 in sorted(set(js[first].tolist())):
            n1 = np.flatnonzero(js[first] == j1)
            k1 = self._sub(j1)
            group = {"j1": j1, "k1": k1, "n1": n1,
                     "psi": self._register_window(f"_psi1_{j1}", bank.psi[first[n1]], 2 ** k1),
                     "low": lowpass(k1) if self.average else None, "second": [], "span": None}
            rows1 += [(1, (int(a),)) for a in n1]
            if self.max_order == 2:
                valid = np.flatnonzero(js[second] > j1)
                ks = np.array([self._sub(int(j2), k1) for j2 in js[second[valid]]], dtype=int)
                m1, k2s = self.N_padded // 2 ** k1, sorted(set(ks.tolist()))
                small = [k2 for k2 in k2s if m1 // 2 ** k2 <= _MERGE_BELOW]
                batches = [[k2] for k2 in k2s if k2 not in small] + ([small] if small else [])
                for batch in batches:
                    k = min(batch)  # computed at the largest length of the batch
                    parts, members = [], []
                    for k2 in batch:
                        n2 = valid[ks == k2]
                        low = lowpass_plan(k1 + k2, 2 ** (k2 - k)) if self.average else None
                        parts.append((len(members), len(members) + len(n2), k2, low))
                        members += n2.tolist()
                        rows2 += [(2, (int(a), int(b))) for a in n1 for b in n2]
                    psi2 = _periodise(bank.psi[second[members]], k1)
                    name = f"_psi2_{k1}_{k}_" + "_".join(map(str, members))
                    group["second"].append({"k": k, "n2": np.array(members), "parts": parts,
                                            "psi": self._register_window(name, psi2, 2 ** k)})
                if group["second"]:
                    group["span"] = span([s["psi"] for s in group["second"]])
            self._groups.append(group)
        self._span0 = span([g["psi"] for g in self._groups])
        self._kt = kt
        # permutation from computing order to Kymatio's order (S0; S1 by n1; S2 by (n1, n2))
        rows = rows1 + rows2
        ordered = sorted(range(len(rows)), key=lambda i: rows[i])
        self._rows = [rows[i] for i in ordered]
        self._order = torch.as_tensor(ordered, dtype=torch.int64)

    # -------------------------------------------------------------------------------- info
    def _unpad_bounds(self, k: int) -> tuple[int, int]:
        """Indices of the signal in a padded map subsampled by ``2**k`` (Kymatio's unpad)."""
        step = 2 ** k
        return -(-self.pad_left // step), -(-(self.pad_left + self.N) // step)

    def fft_floor_shapes(self, batch: int) -> list:
        """The batched FFTs an optimal cascade needs for ``batch`` signals, ``[(shape, kind)]``.

        One ``'rfft'`` of the padded input; per first-order scale one inverse and one forward FFT
        of its maps (at its subsampled length); per second-order scale pair likewise; one
        ``'irfft'`` of every low-passed map. The inverse FFT of an analytic product is complex
        (about twice an ``irfft``): counting it as ``'irfft'`` makes this a lower bound. (The
        network itself low-passes order 2 with one matrix product instead of an FFT pair, and
        computes short second-order maps together at a common length.)
        """
        B, N = int(batch), self.N_padded
        ops = [((B, N), "rfft")]
        for g in self._groups:
            K1, m1 = len(g["n1"]), N // 2 ** g["k1"]
            ops.append(((B * K1, m1), "irfft"))
            if self.average or (self.max_order == 2 and g["second"]):
                ops.append(((B * K1, m1), "rfft"))
            for s in g["second"]:
                for a, b, k2, _ in s["parts"]:
                    n, m2 = B * K1 * (b - a), m1 // 2 ** k2
                    ops.append(((n, m2), "irfft"))
                    if self.average:
                        ops.append(((n, m2), "rfft"))
        if self.average:
            ops.append(((B * len(self._rows), N // 2 ** self._kt), "irfft"))
        return ops

    def _apply_fold(self, spectrum: torch.Tensor, plan: _Fold) -> torch.Tensor:
        """Fold of ``spectrum * h`` for every filter of a gather plan.

        ``spectrum`` (..., M/2 + 1) complex, half the spectrum of real signals; returns
        (..., K, m) complex (``m`` halved plus one for a low-pass plan).
        """
        K, c, m = plan.shape
        lead = spectrum.shape[:-1]
        g = torch.view_as_real(spectrum.index_select(-1, self._tensors[plan.index]))
        g = g.reshape(*lead, K, c, m, 2)
        if plan.sign is None:
            prod = g * self._filter(plan.weight)
            return torch.view_as_complex(prod.sum(-3) if c > 1 else prod.squeeze(-3))
        prod = torch.view_as_complex(g * self._filter(plan.sign)) * self._filter(plan.weight)
        return prod.sum(-2) if c > 1 else prod.squeeze(-2)

    def _apply_window(self, spectrum: torch.Tensor, extended, plan: _Window,
                      workspace: _Workspace | None = None) -> torch.Tensor:
        """Shifted fold of ``spectrum * h`` for every filter of a window plan, times ``1 / m``.

        ``spectrum`` (..., M/2 + 1) complex, half the spectrum of real signals; ``extended`` is
        ``(lo, bins lo, lo + 1, ... of it)`` for 'extended' plans (see :func:`_extend`). Returns
        (..., K, m) complex whose ``ifft(norm='forward')`` has the modulus of the unshifted one.
        """
        K, c, m = plan.shape
        lead = spectrum.shape[:-1]
        weight = self._filter(plan.weight)
        out = None
        if workspace is not None and c == 1:
            out = workspace.take((*lead, K, m), weight.dtype, weight.device)
        if plan.mode == "split":
            e = -plan.start
            prod = torch.mul(spectrum[..., None, :m], weight[:, 0, :m], out=out)
            prod[..., m - e:] = spectrum[..., None, 1:e + 1].flip(-1).conj() * weight[:, 0, m:]
            return prod
        if plan.mode == "slice":
            window = spectrum[..., plan.start:plan.start + c * m]
        else:
            lo, ext = extended
            window = ext[..., plan.start - lo:plan.start - lo + c * m]
        if c > 1:
            return (window.reshape(*lead, 1, c, m) * weight).sum(-2)
        return torch.mul(window.reshape(*lead, 1, m), weight[:, 0], out=out)

    def run(self, x: torch.Tensor, check_input: bool, batch_size: int | None = None):
        """Coefficients of a batch ``(B, N)``: ``(B, C, N_out)`` averaged, else a list of C maps
        ``(B, n_c)`` (Kymatio's order)."""
        # chunks run side by side on threads of one intra-op thread each (see scatter._parallel),
        # sharing the working-set bound
        workers = chunk_workers(x)
        chunk = batch_size or self._auto_batch_size(x.shape[0], workers)
        if x.shape[0] <= chunk:
            return self._checked_cascade(x, check_input)
        chunks = list(x.split(chunk))
        parts = map_chunks(lambda c: self._checked_cascade(c, check_input), chunks, workers) \
            if workers > 1 else None
        if parts is None:
            parts = [self._checked_cascade(part, check_input) for part in chunks]
        return torch.cat(parts) if isinstance(parts[0], torch.Tensor) else \
            [torch.cat(maps) for maps in zip(*parts)]

    def _auto_batch_size(self, batch: int, workers: int = 1) -> int:
        """Signals per pass: equal chunks under :attr:`_CPU_TARGET` shared by the ``workers``
        chunks in flight (a multiple of ``workers`` chunks where the batch allows)."""
        if batch <= 1:
            return max(batch, 1)
        per_signal = max(math.prod(shape) for shape, kind in self.fft_floor_shapes(1) if kind == "irfft")
        n_chunks = chunk_count(batch, self._CPU_TARGET // workers // per_signal, workers)
        return math.ceil(batch / n_chunks)

    def _checked_cascade(self, x: torch.Tensor, check_input: bool):
        """:meth:`_cascade` of a chunk after the NaN/inf check, on the thread that runs the chunk
        (checks on the calling thread would wake torch's intra-op threads, which then spin on the
        cores the chunk workers need; see ``CpuEngine2D._prepared``)."""
        if check_input:
            from .._base import check_finite

            check_finite(x)
        return self._cascade(x)

    def _cascade(self, x: torch.Tensor):
        """Batch ``(B, N)`` to ``(B, C, N_out)`` (averaged) or a list of C maps ``(B, n_c)``."""
        B = x.shape[0]
        x_hat = _fft("rfft", x.index_select(-1, self._pad_index))
        x_ext = self._span0 and (self._span0[0], _extend(x_hat, *self._span0))
        spectra, second = [], []     # averaged: half spectra of orders 0-1, order-2 maps
        products, moduli = self._workspaces()
        moduli = moduli if self.average else None  # unaveraged maps are returned: fresh tensors
        maps1, maps2 = [x], []       # unaveraged maps (S0 = x, as Kymatio)
        if self.average:
            spectra.append(self._apply_fold(x_hat, self._order0))           # (B, 1, h)
        for g in self._groups:
            y1 = _fft("ifft", self._apply_window(x_hat, x_ext, g["psi"], products), overwrite=True)
            u1 = _modulus_into(y1, moduli)                                            # (B, K1, m1)
            u1_hat = _fft("rfft", u1) if self.average or g["second"] else None
            if self.average:
                spectra.append(self._apply_fold(u1_hat, g["low"]).squeeze(-2))
            else:
                maps1 += list(self._unpad(u1, g["k1"]).unbind(1))
            if not g["second"]:
                continue
            u1_ext = g["span"] and (g["span"][0], _extend(u1_hat, *g["span"]))
            for s in g["second"]:
                y2 = _fft("ifft", self._apply_window(u1_hat, u1_ext, s["psi"], products),
                          overwrite=True)
                u2 = _modulus_into(y2, moduli)                                 # (B, K1, K2, m2)
                for a, b, k2, low in s["parts"]:
                    part = u2[..., a:b, :] if len(s["parts"]) > 1 else u2
                    if self.average:  # (..., m2) @ (m2, n_out): low-pass, subsampling, unpad
                        s2 = part @ self._filter(low)
                    else:
                        s2 = self._unpad(part[..., ::2 ** (k2 - s["k"])], g["k1"] + k2)
                    s2 = s2.reshape(B, -1, s2.shape[-1])
                    (second.append(s2) if self.average else maps2.extend(s2.unbind(1)))
        if not self.average:
            maps = maps1 + maps2
            return [maps[i] for i in self._order.tolist()]
        s01 = _fft("irfft", torch.cat(spectra, dim=1), n=self.N_padded // 2 ** self._kt)
        return torch.cat([self._unpad(s01, self._kt)] + second, dim=1).index_select(1, self._order)

    def _workspaces(self) -> tuple[_Workspace, _Workspace]:
        """This thread's buffers for products and moduli (threads never share one)."""
        pair = getattr(self._local, "pair", None)
        if pair is None:
            pair = self._local.pair = (_Workspace(), _Workspace())
        return pair

    def release_workspace(self) -> None:
        """Free the work buffers kept between calls.

        Inference reuses, from one call to the next, a buffer as large as the biggest batched
        wavelet product and one as large as the biggest modulus (about 250 MB for 16 signals of
        65536 samples, J=10, Q=8): fresh ones cost more in page faults than the products on CPU.
        """
        self._local = threading.local()

    def _unpad(self, y: torch.Tensor, k: int) -> torch.Tensor:
        i0, i1 = self._unpad_bounds(k)
        return y[..., i0:i1]

