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
axis the padded signal is gathered directly in polyphase order (even samples, then odd), so that
every tap reads a unit-stride view; along other axes a stride-2 view of whole rows is already
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


class Gather:
    """A cached extension: the gather index and the few samples that need a linear fix-up."""

    def __init__(self, index: np.ndarray, coef: np.ndarray, order: np.ndarray | None = None,
                 device=None) -> None:
        if order is not None:  # polyphase order along the last axis
            index, coef = index[order], coef[order]
        plain = (coef[:, 0] == 1.0) & (coef[:, 1] == 0.0) & (coef[:, 2] == 0.0)
        self.index = torch.as_tensor(index[:, 0], device=device)
        fix = np.flatnonzero(~plain)
        self.fix = None
        if fix.size:
            self.fix = (torch.as_tensor(fix, device=device),
                        torch.as_tensor(index[fix], device=device), coef[fix])
        self._coef = {}

    def __call__(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        y = x.index_select(dim, self.index)
        if self.fix is not None:
            pos, index, coef = self.fix
            key = x.dtype
            if key not in self._coef:
                self._coef[key] = torch.as_tensor(coef, dtype=x.dtype, device=x.device)
            c = self._coef[key]
            shape = (-1,) + (1,) * (-dim - 1)
            vals = sum(x.index_select(dim, index[:, i]) * c[:, i].reshape(shape)
                       for i in range(3) if np.any(coef[:, i]))
            if isinstance(vals, int):  # every fixed sample is zero (zero padding)
                y.index_fill_(dim, pos, 0.0)
            else:
                y.index_copy_(dim, pos, vals)
        return y


def _step2(x: torch.Tensor, dim: int, start: int, count: int) -> torch.Tensor:
    """``count`` samples ``start, start + 2, ...`` along ``dim``."""
    index = [slice(None)] * x.dim()
    index[dim] = slice(start, start + 2 * count - 1, 2)
    return x[tuple(index)]


def _accumulate(terms, shape, like: torch.Tensor, dim_out: int):
    """Sum of ``weight * view`` for each of two outputs, stacked at ``dim_out`` of ``shape``.

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
        self.phases = tuple(tuple((ch, s - self.s_min, float(rec[ch][t])) for ee, t, s in entries
                                  if ee == e for ch in (0, 1) if rec[ch][t] != 0)
                            for e in (0, 1))
        self._cache = {}

    # geometry -------------------------------------------------------------------------------
    def coeff_length(self, n: int) -> int:
        """PyWavelets' ``pywt.dwt_coeff_len(n, F, mode)``."""
        if self.mode == "periodization":
            return (n + 1) // 2
        return (n + self.length - 1) // 2

    def _gather(self, kind: str, n: int, dim_is_last: bool, device) -> Gather:
        key = (kind, n, dim_is_last, str(device))
        g = self._cache.get(key)
        if g is None:
            if kind == "analysis":
                out = self.coeff_length(n)
                total = 2 * out - 2 + self.length
                index, coef = extension(n, self.left, total - n - self.left, self.mode)
                order = None
                if dim_is_last:  # even samples, then odd ones (padded to an even count)
                    if total % 2:
                        index, coef = np.vstack([index, index[-1:]]), np.vstack([coef, coef[-1:]])
                    order = np.concatenate([np.arange(0, index.shape[0], 2),
                                            np.arange(1, index.shape[0], 2)])
                g = Gather(index, coef, order, device)
            else:  # periodic extension of the coefficients for periodization synthesis
                span = self.s_max - self.s_min + 1
                k = np.arange(self.s_min, self.s_min + n + span - 1)
                index = np.zeros((k.size, 3), dtype=np.int64)
                coef = np.zeros((k.size, 3))
                index[:, 0], coef[:, 0] = k % n, 1.0
                g = Gather(index, coef, None, device)
            self._cache[key] = g
        return g

    # analysis -------------------------------------------------------------------------------
    def analysis(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """``x`` (R, *S) -> (R, 2, *S') along spatial axis ``dim`` (negative)."""
        n = x.shape[dim]
        if self.mode in ("reflect", "antireflect") and n < 2:
            raise ValueError(f"mode={self.mode!r} needs at least 2 samples along each "
                             f"transformed axis (as PyWavelets), got {n}")
        out_len = self.coeff_length(n)
        last = dim == -1
        y = self._gather("analysis", n, last, x.device)(x, dim)
        shape = list(x.shape)
        shape[dim] = out_len
        shape.insert(1, 2)
        terms = ([], [])
        if last:
            half = y.shape[-1] // 2
            phases = (y[..., :half], y[..., half:])
            for t, (w_lo, w_hi) in enumerate(self.taps):
                view = phases[t % 2][..., t // 2:t // 2 + out_len]
                if w_lo != 0:
                    terms[0].append((view, w_lo))
                if w_hi != 0:
                    terms[1].append((view, w_hi))
        else:
            for t, (w_lo, w_hi) in enumerate(self.taps):
                view = _step2(y, dim, t, out_len)
                if w_lo != 0:
                    terms[0].append((view, w_lo))
                if w_hi != 0:
                    terms[1].append((view, w_hi))
        return _accumulate(terms, shape, x, 1)

    # synthesis ------------------------------------------------------------------------------
    def synthesis_length(self, n: int) -> int:
        """Length ``pywt.idwt`` returns from coefficients of length ``n``."""
        if self.mode == "periodization":
            return 2 * n
        return 2 * n - self.length + 2

    def synthesis(self, c: torch.Tensor, dim: int) -> torch.Tensor:
        """``c`` (R, 2, *S) low/high pairs -> (R, *S') along spatial axis ``dim`` (negative)."""
        n = c.shape[dim]
        if self.mode == "periodization":
            c = self._gather("synthesis", n, False, c.device)(c, dim)
            count = n
        else:
            count = n - (self.s_max - self.s_min)
            if count < 1:
                raise ValueError(f"coefficients of length {n} are too short for a wavelet of "
                                 f"length {self.length} in mode {self.mode!r}")
        lo, hi = c.select(1, 0), c.select(1, 1)
        terms = tuple([((lo, hi)[ch].narrow(dim, s, count), w) for ch, s, w in phase]
                      for phase in self.phases)
        shape = list(lo.shape)
        shape[dim] = count
        shape.insert(len(shape) + dim + 1, 2)  # (..., count, 2, rest): phase e at dim
        out = _accumulate(terms, shape, c, dim)
        return out.flatten(dim - 1, dim)
