"""One level of the discrete wavelet transform along one axis, in every PyWavelets boundary mode.

Private kernels of :mod:`scatter.filters.dwt`, :mod:`~scatter.filters.dwtn` and
:mod:`~scatter.filters.swt`. Layout: an analysis step maps ``x`` of shape ``(R, *S)`` to
``(R, 2, *S')`` (``[:, 0]`` low-pass, ``[:, 1]`` high-pass) along one spatial axis ``dim``
(negative), a synthesis step maps ``(R, 2, *S)`` back to ``(R, *S'')``.

Conventions (PyWavelets' C code, checked against ``pywt.dwt``/``pywt.idwt`` by the tests): with
filter length ``F`` and the signal ``x_e`` extended by the mode's rule,

* analysis: ``c[o] = sum_j h[j] x_e[2 o + 1 - j]``, ``o < floor((N + F - 1) / 2)``; in
  ``'periodization'`` odd ``N`` first gets its last sample repeated and
  ``c[o] = sum_j h[j] x_e[2 o + F // 2 - j]`` on the periodic extension, ``o < ceil(N / 2)``;
* synthesis: ``x[m] = sum_t g[t] u[m + F - 2 - t]`` (``u`` the zero-upsampled coefficients,
  ``u[2 o] = c[o]``), ``m < 2 n - F + 2`` (valid part, no extension); in ``'periodization'``
  the same sum on periodic ``u`` with offset ``F - 1 - F // 2`` in place of ``F - 2``,
  ``m < 2 n``;
* the extension rules of "Signal extension modes" in PyWavelets' documentation, continued
  beyond one period when the filter is longer than the signal.

The kernels are in-place multiply-adds on strided views, one per filter tap. Along the last
axis the padded signal is split into its even and odd samples (one copy), so that every tap
reads a unit-stride view; along other axes a stride-2 view of whole rows is already
contiguous in its inner dimension. Under autograd the first tap allocates and the outputs are
stacked; otherwise they are written into one preallocated tensor.
"""
from __future__ import annotations

import numpy as np
import torch

MODES = ("zero", "constant", "symmetric", "periodic", "smooth", "periodization", "reflect",
         "antisymmetric", "antireflect")


# -------------------------------------------------------------------------------- extension
def extension(n: int, left: int, right: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The extension of a length-``n`` signal from index ``-left`` to ``n + right - 1``.

    Returns ``(index, coef)`` of shape ``(P, 3)``, ``P = left + n + right``: extended sample
    ``k`` is ``sum_i coef[k, i] * x[index[k, i]]`` (three terms cover every mode, antireflect's
    ``2 x[N-1] - x[i] + 2 m (x[N-1] - x[0])`` beyond one period included). Modes
    ``'periodization'`` (periodic after repeating the last sample of an odd ``n``) included.
    """
    k = np.arange(-left, n + right)
    index = np.zeros((k.size, 3), dtype=np.int64)
    coef = np.zeros((k.size, 3))
    coef[:, 0] = 1.0
    inside = np.clip(k, 0, n - 1)
    if mode in ("zero", "constant"):
        index[:, 0] = inside
        if mode == "zero":
            coef[:, 0] = (k == inside)
    elif mode == "periodic":
        index[:, 0] = k % n
    elif mode == "periodization":
        index[:, 0] = np.minimum(k % (n + n % 2), n - 1)
    elif mode in ("symmetric", "antisymmetric"):
        r = k % (2 * n)
        index[:, 0] = np.where(r < n, r, 2 * n - 1 - r)
        if mode == "antisymmetric":
            coef[:, 0] = np.where((k // n) % 2 == 0, 1.0, -1.0)
    elif mode in ("reflect", "antireflect", "smooth") and n == 1:
        index[:, 0] = 0  # only reached for smooth: the caller refuses reflect modes for n == 1
    elif mode in ("reflect", "antireflect"):
        period = 2 * n - 2
        r = k % period
        index[:, 0] = np.where(r < n, r, period - r)
        if mode == "antireflect":
            # odd reflection about x[0] and x[n-1]: two of them shift by one period and add
            # 2 (x[n-1] - x[0])
            m = k // period
            reflected = r >= n
            coef[:, 0] = np.where(reflected, -1.0, 1.0)
            index[:, 1], coef[:, 1] = n - 1, 2.0 * m + 2.0 * reflected
            index[:, 2], coef[:, 2] = 0, -2.0 * m
    elif mode == "smooth":
        # linear extrapolation from the first (last) two samples
        index[:, 0] = inside
        lo, hi = k < 0, k >= n
        index[lo, 0], coef[lo, 0] = 0, 1.0 - k[lo]
        index[lo, 1], coef[lo, 1] = 1, k[lo]
        d = k[hi] - (n - 1)
        index[hi, 0], coef[hi, 0] = n - 1, 1.0 + d
        index[hi, 1], coef[hi, 1] = n - 2, -d
    else:  # pragma: no cover - modes are checked by the modules
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    return index, coef


class Pad:
    """A cached extension along one axis: ``x`` between the left and right extensions.

    The extensions are a few samples each, gathered and linearly combined (see
    :func:`extension`); the signal itself is copied once by ``torch.cat`` (a gather of the
    whole extended signal along the last axis, ``index_select``, is several times slower).
    """

    def __init__(self, n: int, left: int, right: int, mode: str, device=None) -> None:
        index, coef = extension(n, left, right, mode)
        # smooth: x[i0] + c (x[i1] - x[i0]), PyWavelets' rounding (the blend
        # (1 - c) x[i0] + c x[i1] differs by ~|c| eps |x|, with |c| up to the filter length)
        self.smooth = mode == "smooth"
        self.sides = [self._side(index[:left], coef[:left], device),
                      self._side(index[left + n:], coef[left + n:], device)]
        self._coef = {}

    @staticmethod
    def _side(index, coef, device):
        if index.shape[0] == 0:
            return None
        terms = [i for i in range(3) if np.any(coef[:, i])]
        plain = terms == [0] and np.all(coef[:, 0] == 1.0)
        return (plain, [torch.as_tensor(index[:, i], device=device) for i in terms],
                coef[:, terms], index.shape[0])

    def _values(self, x: torch.Tensor, dim: int, side) -> torch.Tensor:
        plain, indices, coef, count = side
        if plain:
            return x.index_select(dim, indices[0])
        if not indices:  # zero padding
            shape = list(x.shape)
            shape[dim] = count
            return x.new_zeros(shape)
        key = (id(side), x.dtype)
        if key not in self._coef:
            self._coef[key] = torch.as_tensor(coef, dtype=x.dtype, device=x.device)
        c = self._coef[key]
        shape = (-1,) + (1,) * (-dim - 1)
        if self.smooth and len(indices) == 2:
            start = x.index_select(dim, indices[0])
            return start + (x.index_select(dim, indices[1]) - start) * c[:, 1].reshape(shape)
        return sum(x.index_select(dim, index) * c[:, i].reshape(shape)
                   for i, index in enumerate(indices))

    def __call__(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        parts = [self._values(x, dim, self.sides[0])] if self.sides[0] else []
        parts.append(x)
        if self.sides[1]:
            parts.append(self._values(x, dim, self.sides[1]))
        return torch.cat(parts, dim) if len(parts) > 1 else x


def _step2(x: torch.Tensor, dim: int, start: int, count: int) -> torch.Tensor:
    """``count`` samples ``start, start + 2, ...`` along ``dim``."""
    index = [slice(None)] * x.dim()
    index[dim] = slice(start, start + 2 * count - 1, 2)
    return x[tuple(index)]


def _accumulate(terms, shape, like: torch.Tensor, dim_out: int):
    """Sums of ``weight * view``, one per output, stacked at ``dim_out`` of ``shape``.

    ``terms[k]`` lists ``(view, weight)`` for output ``k``. Written in place into one tensor
    unless autograd records (``out=`` is not differentiable): then stacked at the end.
    """
    record = torch.is_grad_enabled() and like.requires_grad
    if record:
        outs = []
        for pairs in terms:
            acc = None
            for view, w in pairs:
                acc = view * w if acc is None else acc.add_(view, alpha=w)
            outs.append(acc)
        return torch.stack(outs, dim=dim_out)
    out = like.new_empty(shape)
    for k, pairs in enumerate(terms):
        target = out.select(dim_out, k)
        for i, (view, w) in enumerate(pairs):
            if i == 0:
                torch.mul(view, w, out=target)
            else:
                target.add_(view, alpha=w)
    return out


class _Weights:
    """Weight pairs as small tensors per dtype and device, shaped ``(2, 1, ..., 1)`` to broadcast
    over the output dimension they are stacked at."""

    def __init__(self, pairs) -> None:
        self.values = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
        self._cache = {}

    def get(self, like: torch.Tensor, trailing: int) -> torch.Tensor:
        key = (like.dtype, like.device, trailing)
        if key not in self._cache:
            w = torch.as_tensor(self.values, dtype=like.dtype, device=like.device)
            self._cache[key] = w.reshape(w.shape + (1,) * trailing)
        return self._cache[key]


def _accumulate_pairs(views, weights: torch.Tensor, shape, like: torch.Tensor, dim_out: int,
                      out: torch.Tensor | None = None):
    """``out[..., k, ...] = sum_i weights[i, k] * views[i]`` with ``k`` in {0, 1} at ``dim_out``:
    one multiply-add per view fills both outputs (half the passes of one per output)."""
    record = torch.is_grad_enabled() and like.requires_grad
    if out is None and not record:
        out = like.new_empty(shape)
    for i, view in enumerate(views):
        view = view.unsqueeze(dim_out)
        if i == 0:
            # under autograd: a new tensor (out= is not differentiable), then in-place adds
            out = view * weights[0] if record else torch.mul(view, weights[0], out=out)
        else:
            out.addcmul_(view, weights[i])
    return out


# Bytes of input per chunk of rows: each chunk is padded and run through all the taps while it
# is in the CPU's cache (one pass per tap over a whole batch is bound by memory bandwidth).
CHUNK_BYTES = 1 << 21


def _chunks(x: torch.Tensor, dim: int, skip: int | None = None):
    """``(axis, ranges)``: ranges of about ``CHUNK_BYTES`` along the first axis of ``x`` that is
    neither ``dim`` (transformed) nor ``skip`` and has two or more entries; one range on a GPU,
    under autograd or for a small ``x``."""
    size = x.numel() * x.element_size()
    axes = [d for d in range(x.dim()) if d not in (x.dim() + dim, skip) and x.shape[d] > 1]
    if (x.device.type != "cpu" or size <= CHUNK_BYTES or not axes
            or (torch.is_grad_enabled() and x.requires_grad)):
        return 0, [(0, x.shape[0])]
    axis = axes[0]
    rows = x.shape[axis]
    step = max(1, rows * CHUNK_BYTES // size)
    return axis, [(i, min(rows, i + step)) for i in range(0, rows, step)]


class AxisTransform:
    """One level of a wavelet's DWT along one axis in one mode (filters as Python floats).

    Parameters
    ----------
    dec_lo, dec_hi, rec_lo, rec_hi : ndarray, float64
        PyWavelets' filters (equal lengths).
    mode : str
        One of :data:`MODES`.
    """

    def __init__(self, dec_lo, dec_hi, rec_lo, rec_hi, mode: str) -> None:
        self.mode = mode
        self.length = length = len(dec_lo)
        # analysis taps: c[o] = sum_t taps[t] x_p[2 o + t] with the reversed filters
        self.taps = tuple(zip(np.asarray(dec_lo)[::-1].tolist(), np.asarray(dec_hi)[::-1].tolist()))
        rec = (np.asarray(rec_lo, dtype=np.float64), np.asarray(rec_hi, dtype=np.float64))
        if mode == "periodization":
            self.left = length // 2 - 1 if length % 2 == 0 else length // 2
            # x[2 p + e] = sum_t g[t] u[2 p + e + s0 - t]: coefficient p + (e + s0 - t) / 2
            shift0 = length - 1 - length // 2
        else:
            self.left = length - 2
            shift0 = length - 2
        entries = [(e, t, (e + shift0 - t) // 2) for e in (0, 1) for t in range(length)
                   if (e + shift0 - t) % 2 == 0]
        self.s_min = min(s for _, _, s in entries)
        self.s_max = max(s for _, _, s in entries)
        # synthesis: x[2 p + e] = sum w c_ch[p + s]; grouped by (ch, s), weights for e = 0, 1
        weights = {}
        for e, t, s in entries:
            for ch in (0, 1):
                if rec[ch][t] != 0:
                    weights.setdefault((ch, s - self.s_min), [0.0, 0.0])[e] = float(rec[ch][t])
        self._synthesis_terms = tuple(weights)
        self._synthesis_w = _Weights(list(weights.values()))
        # analysis: taps that are not zero in both filters (pywt pads biorthogonal filters)
        self._live = tuple(t for t, (lo, hi) in enumerate(self.taps) if lo != 0 or hi != 0)
        self._analysis_w = _Weights([self.taps[t] for t in self._live])
        self._cache = {}

    # geometry -------------------------------------------------------------------------------
    def coeff_length(self, n: int) -> int:
        """PyWavelets' ``pywt.dwt_coeff_len(n, F, mode)``."""
        if self.mode == "periodization":
            return (n + 1) // 2
        return (n + self.length - 1) // 2

    def _pad(self, kind: str, n: int, last: bool, device) -> Pad:
        key = (kind, n, last, str(device))
        pad = self._cache.get(key)
        if pad is None:
            if kind == "analysis":
                total = 2 * self.coeff_length(n) - 2 + self.length
                total += last and total % 2  # whole (even, odd) pairs for the polyphase split
                pad = Pad(n, self.left, total - n - self.left, self.mode, device)
            else:  # periodic extension of the coefficients for periodization synthesis
                pad = Pad(n, -self.s_min, self.s_max, "periodic", device)
            self._cache[key] = pad
        return pad

    # analysis -------------------------------------------------------------------------------
    def analysis(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """``x`` (R, *S) -> (R, 2, *S') along spatial axis ``dim`` (negative)."""
        n = x.shape[dim]
        if self.mode in ("reflect", "antireflect") and n < 2:
            raise ValueError(f"mode={self.mode!r} needs at least 2 samples along each "
                             f"transformed axis (as PyWavelets), got {n}")
        out_len = self.coeff_length(n)
        shape = list(x.shape)
        shape[dim] = out_len
        shape.insert(1, 2)
        axis, chunks = _chunks(x, dim)
        if len(chunks) == 1:
            return self._analysis(x, dim, out_len, shape, None)
        out = x.new_empty(shape)
        out_axis = axis + (axis > 0)  # the output has the band axis at 1
        for start, stop in chunks:
            self._analysis(x.narrow(axis, start, stop - start), dim, out_len, None,
                           out.narrow(out_axis, start, stop - start))
        return out

    def _analysis(self, x, dim, out_len, shape, out):
        last = dim == -1
        y = self._pad("analysis", x.shape[dim], last, x.device)(x, dim)
        if last:
            # even and odd samples as two contiguous rows: unit-stride views for every tap
            y = y.unflatten(-1, (y.shape[-1] // 2, 2)).transpose(-1, -2).contiguous()
            views = [y[..., t % 2, t // 2:t // 2 + out_len] for t in self._live]
        else:
            views = [_step2(y, dim, t, out_len) for t in self._live]
        return _accumulate_pairs(views, self._analysis_w.get(x, x.dim() - 1), shape, x, 1, out)

    # synthesis ------------------------------------------------------------------------------
    def synthesis_length(self, n: int) -> int:
        """Length ``pywt.idwt`` returns from coefficients of length ``n``."""
        if self.mode == "periodization":
            return 2 * n
        return 2 * n - self.length + 2

    def synthesis(self, c: torch.Tensor, dim: int) -> torch.Tensor:
        """``c`` (R, 2, *S) low/high pairs -> (R, *S') along spatial axis ``dim`` (negative)."""
        n = c.shape[dim]
        count = n if self.mode == "periodization" else n - (self.s_max - self.s_min)
        if count < 1:
            raise ValueError(f"coefficients of length {n} are too short for a wavelet of "
                             f"length {self.length} in mode {self.mode!r}")
        axis, chunks = _chunks(c, dim, skip=1)  # not across the (low, high) axis
        if len(chunks) == 1:
            out = self._synthesis(c, dim, count)
            return out.movedim(dim - 1, dim).flatten(dim - 1, dim)
        shape = list(c.select(1, 0).shape)
        shape[dim] = 2 * count
        out = c.new_empty(shape)
        out_axis = axis - (axis > 1)  # the output lacks the (low, high) axis
        for start, stop in chunks:
            phases = self._synthesis(c.narrow(axis, start, stop - start), dim, count)
            target = out.narrow(out_axis, start, stop - start).unflatten(dim, (count, 2))
            target.copy_(phases.movedim(dim - 1, dim))
        return out

    def _synthesis(self, c, dim, count):
        """The two output phases, stacked at ``dim - 1``."""
        if self.mode == "periodization":
            c = self._pad("synthesis", c.shape[dim], dim == -1, c.device)(c, dim)
        views = [c.select(1, ch).narrow(dim, s, count) for ch, s in self._synthesis_terms]
        shape = list(c.select(1, 0).shape)
        shape[dim] = count
        # the two phases as two blocks (an output with the phase inside, interleaved, is twice as
        # slow per multiply-add), interleaved afterwards by one copy
        shape.insert(len(shape) + dim, 2)
        return _accumulate_pairs(views, self._synthesis_w.get(c, -dim), shape, c, dim - 1)


class StationaryAxis:
    """One level of the stationary (undecimated, a trous) transform along one axis.

    PyWavelets' ``swt`` and ``iswt`` conventions (checked by the tests): at dilation ``s``
    (``2**level`` of the level's input), ``c[k] = sum_t h[t] x[(k + s F // 2 - t s) mod N]``;
    the inverse level is ``x[k] = gain * sum_t (g_lo[t] a[(k + s (F//2 - 1) - t s) mod N] +
    g_hi[t] d[...])`` with ``gain = 1/2`` (``1/sqrt(2)`` when ``norm``), and the analysis filters
    are divided by ``sqrt(2)`` when ``norm``.
    """

    def __init__(self, dec_lo, dec_hi, rec_lo, rec_hi, norm: bool) -> None:
        self.length = len(dec_lo)
        scale = 1 / np.sqrt(2) if norm else 1.0
        self.dec = (np.asarray(dec_lo, dtype=np.float64) * scale,
                    np.asarray(dec_hi, dtype=np.float64) * scale)
        gain = 1 / np.sqrt(2) if norm else 0.5
        self.rec = (np.asarray(rec_lo, dtype=np.float64) * gain,
                    np.asarray(rec_hi, dtype=np.float64) * gain)
        self._live = tuple(t for t in range(self.length) if self.dec[0][t] or self.dec[1][t])
        self._analysis_w = _Weights([(self.dec[0][t], self.dec[1][t]) for t in self._live])
        self._cache = {}

    def _pad(self, n: int, shift: int, dilation: int, device) -> Pad:
        """Periodic extension ``e[j] = x[(j + shift - (F - 1) s) mod n]``, ``j < n + (F-1) s``."""
        key = (n, shift, dilation, str(device))
        if key not in self._cache:
            span = (self.length - 1) * dilation
            self._cache[key] = Pad(n, span - shift, shift, "periodic", device)
        return self._cache[key]

    def analysis(self, x: torch.Tensor, dim: int, dilation: int) -> torch.Tensor:
        """``x`` (R, *S) -> (R, 2, *S) low/high along spatial axis ``dim``."""
        n, length = x.shape[dim], self.length
        e = self._pad(n, (length // 2) * dilation, dilation, x.device)(x, dim)
        views = [e.narrow(dim, (length - 1 - t) * dilation, n) for t in self._live]
        shape = list(x.shape)
        shape.insert(1, 2)
        return _accumulate_pairs(views, self._analysis_w.get(x, x.dim() - 1), shape, x, 1)

    def synthesis(self, c: torch.Tensor, dim: int, dilation: int) -> torch.Tensor:
        """``c`` (R, 2, *S) low/high pairs -> (R, *S) along spatial axis ``dim``."""
        n, length = c.shape[dim], self.length
        e = self._pad(n, (length // 2 - 1) * dilation, dilation, c.device)(c, dim)
        terms = ([(e.select(1, ch).narrow(dim, (length - 1 - t) * dilation, n), float(g[t]))
                  for ch, g in enumerate(self.rec) for t in range(length) if g[t] != 0],)
        shape = list(c.shape)
        shape[1] = 1
        return _accumulate(terms, shape, c, 1).select(1, 0)
