"""The CPU inference engine of :class:`scatter.RotoTranslationScattering2D`.

It computes :func:`scatter.core.roto_cascade2d` for CPU inference (no autograd) with the building
blocks of :mod:`scatter.engine.fourier`, as :mod:`scatter.engine.cpu2d` does for
:class:`scatter.Scattering2D`:

- each wavelet product is fused with the subsampling that follows it, over alias blocks (in
  the first layer only those where a filter is not negligible; a group of second-layer
  wavelets spans every orientation, hence every block), with the real Morlet filters
  multiplied as real pairs;
- inverse FFTs run in place without their ``1 / n``, which the filters carry; the modulus goes
  through NumPy;
- the second-layer wavelets ``psi_{j2, t + t2}`` of every relative angle ``t2`` and angle ``t``
  are one strided (Hankel) view of a stack of ``4 L`` filters (the circle's ``2 L`` angles
  twice): no ``(L, 2L)`` table of filters is stored, and one product covers a group of
  ``t2``, each first-layer map read once for all of them;
- large intermediates live in work buffers kept per thread between calls;
- the batch runs in chunks sized for the caches, side by side on worker threads of one intra-op
  thread each (:mod:`scatter._parallel`).
"""
from __future__ import annotations

import numpy as np
import torch

from .._angular import angular_morlet, circulant
from .._parallel import chunk_count, chunk_workers, map_chunks
from .._roto_design import circle
from .fourier import (ThreadWorkspaces, Workspace, block_products, fft2_of_real, filter_subsample,
                      ifft_in_place, modulus, significant_blocks, take)


def _pairs(design: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A real Fourier filter duplicated over a trailing (re, im) axis (see
    :func:`scatter.engine.fourier.filter_subsample`)."""
    return torch.from_numpy(np.ascontiguousarray(np.stack([design, design], axis=-1))).to(dtype)


def _every_block(factor: int) -> list:
    """Every alias block of a ``factor x factor`` split, for every filter (see
    :func:`scatter.engine.fourier.significant_blocks`)."""
    return [(a, b, None) for a in range(factor) for b in range(factor)]


class _Filtering:
    """One stack of real Fourier filters followed by a subsampling by ``factor``, with the alias
    blocks each of its filters needs (:func:`scatter.engine.fourier.significant_blocks`)."""

    def __init__(self, filt: torch.Tensor, factor: int, blocks: list | None) -> None:
        self.filt, self.factor = filt, factor
        self.products = None if factor == 1 else block_products(filt, factor, blocks)

    def __call__(self, u_hat: torch.Tensor, workspace: Workspace) -> torch.Tensor:
        return filter_subsample(u_hat, self.filt, self.factor, None, workspace, self.products)


class _Circle:
    """The wavelets of scale ``j2`` on the circle, for the maps of one first-layer scale.

    ``stack`` holds the ``2 L`` angles twice (``4 L`` filters, real pairs), so that the filters
    ``psi_{t + t2}`` of relative angles ``t2`` in ``[t0, t0 + g)`` are a strided view of it
    (rows and columns advancing by one filter): :meth:`identity` ``(g, L)`` for ``t < L``,
    :meth:`whole` ``(g, 2, L)`` for ``t = h L + t'`` over the full circle.
    """

    def __init__(self, stack: torch.Tensor, L: int, factor: int) -> None:
        self.stack, self.L, self.factor = stack, L, factor
        self.mean = _Filtering(stack[:L], factor, _every_block(factor))
        self._views: dict = {}

    def _view(self, t0: int, g: int, whole: bool) -> _Filtering:
        key = (t0, g, whole)
        view = self._views.get(key)
        if view is None:            # built once per group (a benign race between threads)
            L, (m, n) = self.L, self.stack.shape[1:3]
            s = m * n * 2
            size, stride = ((g, 2, L), (s, L * s, s)) if whole else ((g, L), (s, s))
            filt = self.stack.as_strided((*size, m, n, 2), (*stride, 2 * n, 2, 1), t0 * s)
            view = self._views[key] = _Filtering(filt, self.factor, _every_block(self.factor))
        return view

    def identity(self, t0: int, g: int) -> _Filtering:
        return self._view(t0, g, False)

    def whole(self, t0: int, g: int) -> _Filtering:
        return self._view(t0, g, True)


class CpuRotoEngine2D:
    """:func:`scatter.core.roto_cascade2d` for CPU inference, on a network's plan, in one dtype.

    Parameters
    ----------
    plan : scatter.rototranslation2d.RotoPlan2D
        The network's scales, resolutions, bank, low-pass matrices and rows (float64 designs).
    dtype : torch.dtype
        float32 or float64.
    """

    # Working-set target, in complex values per intermediate, shared by the chunks in flight
    # (as scatter.engine.cpu2d.CpuEngine2D's).
    _CPU_TARGET = 3 << 18
    # The second layer's products of a group of relative angles (see _groups): larger groups
    # read each first-layer map fewer times
    _OUTPUT_TARGET = 3 << 20
    _SLOTS = ("input_spectrum", "product", "modulus", "spectrum")

    def __init__(self, plan, dtype: torch.dtype) -> None:
        self.plan = plan
        self.dtype = dtype
        self._buffers = ThreadWorkspaces(self._SLOTS)  # work buffers of each calling thread
        self._build_filters()

    # ------------------------------------------------------------------------ construction
    def _build_filters(self) -> None:
        """Every filter at the resolution it is used at, with the subsampling's mean and the
        inverse FFT's ``1 / n`` folded in (``1 / (m n)`` for a filter on an ``(m, n)`` grid)."""
        plan, dtype = self.plan, self.dtype
        bank, L, res = plan.bank, plan.L, plan.res
        M, N = plan.shape
        group = [np.flatnonzero(bank.meta["j"] == j) for j in range(plan.J)]
        self._first, self._later = [], []
        for j1 in range(plan.J):
            psi1 = bank.psi[group[j1]] / (M * N)
            factor = 2 ** res[j1]
            self._first.append(_Filtering(_pairs(psi1, dtype), factor,
                                          significant_blocks(psi1, factor) if factor > 1 else None))
            later = []
            for j2 in range(j1 + 1, plan.J) if plan.max_order == 2 else ():
                angles = circle(bank.psi[group[j2]], 2 ** res[j1])                 # (2L, m, n)
                angles = np.concatenate([angles, angles]) / (angles.shape[-2] * angles.shape[-1])
                later.append((res[j2], _Circle(_pairs(angles, dtype), L, 2 ** (res[j2] - res[j1]))))
            self._later.append(later)
        self._phi = [tuple(torch.from_numpy(m).to(dtype) for m in pair) for pair in plan.lowpass]
        self._angular = torch.from_numpy(circulant(angular_morlet(L, plan.K)).reshape(plan.K, L, L)
                                         ).to(dtype.to_complex())

    # ------------------------------------------------------------------------------ compute
    def run(self, x: torch.Tensor, check_input: bool, batch_size: int | None = None) -> torch.Tensor:
        """Coefficients ``(B, C[, h, w])`` of a batch ``(B, M, N)``, angles not averaged (the
        rows of the plan)."""
        workers = chunk_workers(x)
        if batch_size is not None:
            parts = list(x.split(batch_size))
        else:
            n = chunk_count(x.shape[0], self._auto_batch_size(workers), workers)
            parts = list(x.tensor_split(n)) if n > 1 else [x]
        out = x.new_empty((x.shape[0], len(self.plan.rows), *self.plan.output_shape))
        dests = list(out.split([p.shape[0] for p in parts]))

        def one(part_dest):
            part, dest = part_dest
            if check_input:
                from .._base import check_finite

                check_finite(part)
            return self._cascade(part, self._workspaces(), dest)

        done = None
        if len(parts) > 1 and workers > 1:
            done = map_chunks(one, list(zip(parts, dests)), workers)
        if done is None:
            for pd in zip(parts, dests):
                one(pd)
        return out

    def _auto_batch_size(self, workers: int) -> int:
        """Images per chunk: the largest intermediate of one image before the second layer (the
        finest scale's first-layer maps, or their angular convolutions ``(K, L, m, n)``) within
        the working-set target of one worker (the second layer splits its products by
        :meth:`_groups`)."""
        plan = self.plan
        M, N = plan.shape
        per_image = plan.L * M * N // 4 ** plan.res[0] * (max(plan.K, 1) if plan.joint else 1)
        return max(1, self._CPU_TARGET // workers // per_image)

    def _average(self, u: torch.Tensor, res: int) -> torch.Tensor:
        """``A u`` for real maps ``u`` (..., m, n) at resolution ``2**res``: the mean over the
        grid, or the low-pass subsampled to ``2**J`` as two matrix products."""
        if self.plan.global_average:
            return u.mean((-2, -1))
        rows, cols = self._phi[res]
        return torch.matmul(torch.matmul(rows, u), cols)

    def _angular_conv(self, u: torch.Tensor) -> torch.Tensor:
        """Cyclic convolutions along the angle axis 1 of ``u`` (B, L, ...) with every angular
        wavelet: (B, K, L, ...)."""
        B, L = u.shape[:2]
        flat = u.reshape(B, 1, L, -1).to(self._angular.dtype)
        return torch.matmul(self._angular, flat).reshape(B, -1, L, *u.shape[2:])

    def _modulus_of_inverse(self, z: torch.Tensor, ws: dict) -> torch.Tensor:
        """``|ifft2(z)|`` without the ``1 / n`` (the filters carry it); ``z`` is overwritten."""
        y = ifft_in_place(z, 2, norm="forward")
        return modulus(y, take(ws["modulus"], y.shape, y.real.dtype, y.device))

    def _cascade(self, x: torch.Tensor, ws: dict, dest: torch.Tensor) -> torch.Tensor:
        """A chunk ``(B, M, N)`` to its coefficients, written into ``dest`` (B, C[, h, w])."""
        plan = self.plan
        B = x.shape[0]
        x_hat = fft2_of_real(x, ws["input_spectrum"])
        zeroth, first, angular, second = [self._average(x, 0)[:, None]], [], [], []
        for j1, filtering in enumerate(self._first):
            res = plan.res[j1]
            u1 = self._modulus_of_inverse(filtering(x_hat[:, None], ws["product"]), ws)   # (B, L, m, n)
            s1 = self._average(u1, res)
            first.append(s1)
            if plan.max_order == 2 and plan.K:
                if plan.global_average:    # |U1 ~*~ pbar_k| averaged over the grid
                    angular.append(modulus(self._angular_conv(u1)).mean((-2, -1)).flatten(1, 2))
                else:                      # |(A U1) ~*~ pbar_k|
                    angular.append(modulus(self._angular_conv(s1)).flatten(1, 2))
            if not self._later[j1]:
                continue
            u1_hat = fft2_of_real(u1, ws["spectrum"])                                 # (B, L, m, n)
            del u1                        # its buffer holds the second layer's moduli next
            if plan.joint:
                if plan.K:
                    a_hat = self._angular_conv(u1_hat)                                # (B, K, L, m, n)
                mean_hat = torch.view_as_complex(torch.view_as_real(u1_hat).mean(1, keepdim=True))
            for res2, wavelets in self._later[j1]:
                if plan.joint:             # the angular mean path, by the absolute angle p
                    w = self._modulus_of_inverse(wavelets.mean(mean_hat, ws["product"]), ws)
                    second.append(self._average(w, res2))
                for t0, g in self._groups(B, u1_hat.shape[-2:], wavelets.factor):
                    v = self._modulus_of_inverse(wavelets.identity(t0, g)(u1_hat[:, None], ws["product"]), ws)
                    p = self._average(v, res2)                                      # (B, g, L[, h, w])
                    if plan.joint and plan.K:
                        w = self._modulus_of_inverse(wavelets.whole(t0, g)(a_hat[:, :, None, None], ws["product"]),
                                                     ws)                            # (B, K, g, 2, L, ...)
                        q = self._average(w, res2).flatten(3, 4).transpose(1, 2)    # (B, g, K, 2L[, h, w])
                    elif plan.K:
                        q = modulus(self._angular_conv(p.flatten(0, 1))).unflatten(0, (B, g))  # (B, g, K, L...)
                    for i in range(g):     # rows by t2, each: no angular filter, then (k, t)
                        second.append(p[:, i])
                        if plan.K:
                            second.append(q[:, i].flatten(1, 2))
        return torch.cat(zeroth + first + angular + second, dim=1, out=dest)

    def _groups(self, batch: int, grid: tuple, factor: int) -> list[tuple[int, int]]:
        """The relative angles ``t2`` in groups ``(t0, g)`` whose second-layer products for
        ``batch`` images stay within ``_OUTPUT_TARGET`` complex values."""
        L, K = self.plan.L, self.plan.K
        per_t2 = batch * (2 * K if self.plan.joint and K else 1) * L * grid[0] * grid[1] // factor ** 2
        g = max(1, min(L, self._OUTPUT_TARGET // max(1, per_t2)))
        return [(t0, min(g, L - t0)) for t0 in range(0, L, g)]

    def _workspaces(self) -> dict[str, Workspace]:
        """This thread's buffers for the large intermediates (threads never share one)."""
        return self._buffers.get()

    def release_workspace(self) -> None:
        """Free the work buffers kept between calls."""
        self._buffers.release()
