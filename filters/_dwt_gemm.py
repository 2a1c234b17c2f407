"""The inverse 2D DWT on a CPU without autograd: the fast path of :class:`~scatter.filters.IDWT2d`.

Why: the generic kernels of :mod:`~scatter.filters._dwt_ops` make one multiply-add pass over the
whole array per filter tap (three array accesses per multiply-add), which made the inverse
slower than PyWavelets' (one pass per axis, each line in cache). Two replacements:

* :class:`Inverse2d`, any wavelet longer than two taps. One synthesis step along an axis is a
  banded matrix product, cut into diagonal blocks: output samples ``2 p0 .. 2 (p0 + h) - 1``
  depend only on the coefficients ``p0 .. p0 + h + span - 1`` of both bands (``span = s_max -
  s_min`` of :class:`~scatter.filters._dwt_ops.AxisTransform`), so every block is one small dense
  product (MKL's GEMM) with the same ``(2 h, 2 (h + span))`` weights, a few zeros included.
* :class:`TwoTap`, two-tap wavelets (``haar``, ``bior1.1``, ...): no overlap between output
  pairs, so a few element-wise passes (products would be mostly zeros).

Layout of :class:`Inverse2d`: the products need the two bands of an axis next to each other
along that axis (coefficient ``l`` of band ``ch`` at row ``2 l + ch``), so a level first copies
its four bands into one array ``(m, 2, b, n, 2)`` (rows, row band, images, columns, column band;
this copy replaces the concatenation the generic path makes). The rows step multiplies it from
the left by the block weights (``(m, 2)`` rows by ``b n 2`` columns: large products, no copy);
its output ``(M, b, n, 2)`` is the columns step's input, multiplied from the right. The image is
kept rows-outer, ``(M, B, N)``, between levels; the last level copies each group's rows-outer
output into the ``(B, M, N)`` result while it is in cache. In ``'periodization'`` the four bands
are copied with their periodic margins (rows and columns), which both steps then read as
ordinary coefficients.

Cache: the last (largest) level runs on groups of images whose three scratch arrays (band copy,
rows output, columns output; reused from group to group) take about :data:`GROUP_BYTES`; the
smaller levels run on the whole batch at once (fewer, larger products).

Block sizes, group size and the float64 transposed products were chosen by timing the
benchmark's images (``benchmarks/filters_gabor_dwt.py``, 1 thread). Products are written into
preallocated outputs (``out=``), which autograd does not record: the path runs only where no
coefficient is recorded, on a CPU (elsewhere :class:`IDWT2d` uses the generic kernels).
"""
from __future__ import annotations

import numpy as np
import torch

from ._dwt_ops import AxisTransform, extension

# Output samples per block along the rows (outer) and the columns (inner) axis (h = block // 2
# coefficients of each band): larger blocks mean larger products but more zero weights.
# (8 output columns made sgemm slow.) Products whose long side (the images' columns for the rows
# step, their rows for the columns step) is under SHORT samples take SHORT_BLOCK: few and
# small products otherwise cost more in calls than the zeros of larger blocks (one image).
ROW_BLOCK = 8
COL_BLOCK = 16
SHORT, SHORT_BLOCK = 1024, 32
# Bytes of a last level's scratch arrays (band copy, rows and columns output) per group of images.
GROUP_BYTES = 1 << 23


def usable(tensors) -> bool:
    """Whether the matrix-product path applies: CPU tensors, none of them recorded by autograd."""
    return (all(t.device.type == "cpu" for t in tensors)
            and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)))


class BlockWeights:
    """The synthesis weights of one :class:`AxisTransform` as dense diagonal blocks.

    ``matrix[2 p + e, 2 l + ch]`` is the weight of band ``ch``'s coefficient ``p0 + l`` in output
    sample ``2 (p0 + p) + e`` (``p < half``, ``l < half + span``), cached per dtype and device;
    a shorter last block uses the top-left corner.
    """

    def __init__(self, axis: AxisTransform, half: int) -> None:
        self.half = half
        self.span = axis.s_max - axis.s_min
        w = np.zeros((half, 2, half + self.span, 2))
        for (ch, s), (w_even, w_odd) in zip(axis._synthesis_terms, axis._synthesis_w.values):
            for p in range(half):
                w[p, 0, p + s, ch] = w_even
                w[p, 1, p + s, ch] = w_odd
        self.values = w.reshape(2 * half, 2 * (half + self.span))
        self._cache = {}

    def get(self, like: torch.Tensor, transposed: bool = False) -> torch.Tensor:
        key = (like.dtype, like.device, transposed)
        if key not in self._cache:
            values = self.values.T if transposed else self.values
            self._cache[key] = torch.as_tensor(np.ascontiguousarray(values), dtype=like.dtype,
                                               device=like.device)
        return self._cache[key]

    def rows(self, q: torch.Tensor, out: torch.Tensor) -> None:
        """Synthesis along the outer axis: ``q`` (2 n, X) with row ``2 l + ch`` holding band
        ``ch``'s coefficient ``l`` -> ``out`` (2 count, X), ``count = n - span``, contiguous.

        The full blocks are one batched product on overlapping windows of ``q`` (a strided
        view, no copy; one call instead of one per block), a shorter last block one more.
        """
        w = self.get(q)
        full, rest, k, window = self._sizes(out.shape[0] // 2)
        if full:
            windows = q.as_strided((full, window, q.shape[1]),
                                   (k * q.stride(0), q.stride(0), q.stride(1)), q.storage_offset())
            torch.bmm(w.expand(full, k, window), windows, out=out[:full * k].view(full, k, -1))
        if rest:
            p0 = full * self.half
            torch.mm(w[:2 * rest, :2 * (rest + self.span)], q[2 * p0:], out=out[2 * p0:])

    def columns(self, q: torch.Tensor, out: torch.Tensor) -> None:
        """Synthesis along the inner axis: ``q`` (R, 2 n) with column ``2 l + ch`` holding band
        ``ch``'s coefficient ``l`` -> ``out`` (R, 2 count), contiguous (blocks as in
        :meth:`rows`).

        In float64 the products are computed transposed, ``(2 count, R)``, and transposed back
        by one copy (torch's blocked 2D transpose): MKL's dgemm is about twice as fast with the
        long dimension contiguous in its output, more than the copy costs (sgemm is as fast
        either way).
        """
        full, rest, k, window = self._sizes(out.shape[1] // 2)
        p0 = full * self.half
        rows, step = q.shape[0], q.stride(1)
        if q.dtype == torch.float64:
            w = self.get(q)
            transposed = q.new_empty(out.shape[1], rows)
            if full:
                windows = q.as_strided((full, window, rows), (k * step, step, q.stride(0)),
                                       q.storage_offset())
                torch.bmm(w.expand(full, k, window), windows,
                          out=transposed[:full * k].view(full, k, rows))
            if rest:
                torch.mm(w[:2 * rest, :2 * (rest + self.span)], q[:, 2 * p0:].t(),
                         out=transposed[2 * p0:])
            out.copy_(transposed.t())
            return
        w = self.get(q, transposed=True)
        if full:
            windows = q.as_strided((full, rows, window), (k * step, q.stride(0), step),
                                   q.storage_offset())
            blocks = out.as_strided((full, rows, k), (k * out.stride(1), out.stride(0),
                                                      out.stride(1)), out.storage_offset())
            torch.bmm(windows, w.expand(full, window, k), out=blocks)
        if rest:
            torch.mm(q[:, 2 * p0:], w[:2 * (rest + self.span), :2 * rest], out=out[:, 2 * p0:])

    def _sizes(self, count: int):
        """``(full, rest, k, window)``: full blocks and output pairs left for a shorter one
        among ``count``, and a full block's output and input lengths."""
        full, rest = divmod(count, self.half)
        return full, rest, 2 * self.half, 2 * (self.half + self.span)


def rows_outer(a: torch.Tensor) -> torch.Tensor:
    """``(B, m, n)`` -> the rows-outer layout ``(m, B, n)`` this path keeps between levels (a
    view: the next level's band copy reads it)."""
    return a.transpose(0, 1)


class TwoTap:
    """One level of the inverse 2D DWT of a two-tap wavelet (``haar``, ``bior1.1``, ...): each
    output sample is ``g[e, 0] lo[p] + g[e, 1] hi[p]`` along each axis, with no overlap between
    neighbouring pairs, so a few element-wise passes in the ``(B, M, N)`` layout beat products
    that would be mostly zeros (and need no band copy nor transposition).
    """

    rows_outer = False

    def __init__(self, axis: AxisTransform) -> None:
        self.g = [[0.0, 0.0], [0.0, 0.0]]  # g[phase][band]
        for (ch, _), (w_even, w_odd) in zip(axis._synthesis_terms, axis._synthesis_w.values):
            self.g[0][ch], self.g[1][ch] = float(w_even), float(w_odd)
        # haar's g = c [[1, 1], [1, -1]]: sums and differences (one pass each), the c^2 once
        c = self.g[0][0]
        self.scale = c * c if c != 0 and self.g[1][0] == c else None

    def __call__(self, a: torch.Tensor, d: torch.Tensor, batch_outer: bool = True
                 ) -> torch.Tensor:
        """``a`` (B, m, n) approximation, ``d`` (B, 3, m, n) details -> (B, 2 m, 2 n) (always
        batch-outer: ``batch_outer`` is accepted for :class:`Inverse2d`'s signature)."""
        g = self.g
        batch, m, n = a.shape
        bands = {(0, 0): a, (1, 0): d[:, 0], (0, 1): d[:, 1], (1, 1): d[:, 2]}  # (row, column)
        # rows: (B, m, [row phase], [column band], n), unit-stride rows
        mid = a.new_empty(batch, m, 2, 2, n)
        out = a.new_empty(batch, m, 2, n, 2)
        if self.scale is not None:
            ratio = [g[e][1] / g[e][0] for e in (0, 1)]
            for e in (0, 1):
                for cb in (0, 1):
                    torch.add(bands[0, cb], bands[1, cb], alpha=ratio[e], out=mid[:, :, e, cb])
            for f in (0, 1):
                torch.add(mid[:, :, :, 0], mid[:, :, :, 1], alpha=ratio[f], out=out[..., f])
            return out.view(batch, 2 * m, 2 * n).mul_(self.scale)
        for e in (0, 1):
            for cb in (0, 1):
                torch.mul(bands[0, cb], g[e][0], out=mid[:, :, e, cb])
                mid[:, :, e, cb].add_(bands[1, cb], alpha=g[e][1])
        # columns, into the interleaved result (B, m, [row phase], n, [column phase])
        for f in (0, 1):
            torch.mul(mid[:, :, :, 0], g[f][0], out=out[..., f])
            out[..., f].add_(mid[:, :, :, 1], alpha=g[f][1])
        return out.view(batch, 2 * m, 2 * n)


def level_2d(axis: AxisTransform):
    """The fastest CPU level for ``axis``: :class:`TwoTap` or :class:`Inverse2d`."""
    if axis.s_min == axis.s_max == 0:
        return TwoTap(axis)
    return Inverse2d(axis)


class Inverse2d:
    """One level of the inverse 2D DWT by :class:`BlockWeights` products (see the module)."""

    rows_outer = True

    def __init__(self, axis: AxisTransform) -> None:
        self.axis = axis
        self.span = axis.s_max - axis.s_min
        self.periodic = axis.mode == "periodization"
        # periodization: the coefficients with s_max - s_min extra, periodic, along each axis
        self.margins = (-axis.s_min, axis.s_max) if self.periodic else (0, 0)
        self._weights = {}

    def count(self, n: int) -> int:
        """Output pairs from ``n`` coefficients along an axis (``AxisTransform.synthesis``)."""
        return n if self.periodic else n - self.span

    def weights(self, block: int) -> BlockWeights:
        if block not in self._weights:
            self._weights[block] = BlockWeights(self.axis, block // 2)
        return self._weights[block]

    def __call__(self, a: torch.Tensor, d: torch.Tensor, batch_outer: bool = False
                 ) -> torch.Tensor:
        """``a`` (m, B, n) rows-outer approximation, ``d`` (B, 3, m, n) details (pywt's cH, cV,
        cD) -> the next approximation (M, B, N), rows-outer; with ``batch_outer``, a view of a
        contiguous (B, M, N) result (the last level)."""
        m, batch, n = a.shape
        rows, cols = self.count(m), self.count(n)
        if rows < 1 or cols < 1:
            raise ValueError(f"coefficients of shape {(m, n)} are too short for a wavelet of "
                             f"length {self.axis.length} in mode {self.axis.mode!r}")
        m_ext, n_ext = m + sum(self.margins), n + sum(self.margins)
        sizes = (m_ext * 2 * n_ext * 2, 2 * rows * n_ext * 2, 2 * rows * 2 * cols)  # per image
        if batch_outer:
            result = a.new_empty(batch, 2 * rows, 2 * cols)
            group = max(1, min(batch, GROUP_BYTES // (sum(sizes) * a.element_size())))
            group = -(-batch // -(-batch // group)) if batch else 1  # groups of equal sizes
        else:
            result = a.new_empty(2 * rows, batch, 2 * cols)
            group = max(batch, 1)
        # scratch for one group's g images, contiguous (the last group may be smaller)
        flat = [a.new_empty(size * group) for size in sizes]
        row_weights = self.weights(ROW_BLOCK if group * n_ext * 2 >= SHORT else SHORT_BLOCK)
        col_weights = self.weights(COL_BLOCK if 2 * rows * group >= SHORT else SHORT_BLOCK)
        for start in range(0, batch, group):
            g = min(group, batch - start)
            q = flat[0][:sizes[0] * g].view(m_ext, 2, g, n_ext, 2)
            mid = flat[1][:sizes[1] * g].view(2 * rows, g * n_ext * 2)
            out = result if not batch_outer else flat[2][:sizes[2] * g].view(2 * rows, g, -1)
            self._bands(a[:, start:start + g], d[start:start + g], q)
            row_weights.rows(q.view(2 * m_ext, -1), mid)
            col_weights.columns(mid.view(2 * rows * g, 2 * n_ext), out.view(2 * rows * g, -1))
            if batch_outer:  # rows-outer group, hot in cache, into its images of the result
                result[start:start + g].copy_(out.transpose(0, 1))
        return rows_outer(result) if batch_outer else result

    def _bands(self, a: torch.Tensor, d: torch.Tensor, q: torch.Tensor) -> None:
        """Copy the four bands into ``q`` (m', 2 [row band], b, n', 2 [column band]), with the
        periodic margins in ``'periodization'`` (``m' = m`` otherwise)."""
        m, _, n = a.shape
        left, right = self.margins
        centre = q[left:left + m, :, :, left:left + n]
        # (row band, column band): aa, da (pywt's cH), ad (cV), dd (cD); the two column bands
        # of a row band one after the other: they share cache lines of q
        centre[:, 0, :, :, 0].copy_(a)
        for k, (rb, cb) in ((1, (0, 1)), (0, (1, 0)), (2, (1, 1))):
            centre[:, rb, :, :, cb].copy_(d[:, k].transpose(0, 1))
        if self.periodic:
            _wrap(q, 3, n, left, right)  # columns first: the row margins then copy whole rows
            _wrap(q, 0, m, left, right)


def _wrap(q: torch.Tensor, dim: int, n: int, left: int, right: int) -> None:
    """Fill the margins of ``q`` along ``dim`` (``left`` before and ``right`` after ``n``
    samples) with the periodic continuation of those samples (any margin, several periods
    included)."""
    index, _ = extension(n, left, right, "periodic")
    index = torch.as_tensor(index[:, 0] + left, device=q.device)
    for start, stop in ((0, left), (left + n, left + n + right)):
        if stop > start:
            q.narrow(dim, start, stop - start).copy_(q.index_select(dim, index[start:stop]))
