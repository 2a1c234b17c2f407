"""The CPU inference engine of :class:`scatter.RotoTranslationScattering2D`.

It computes :func:`scatter.core.roto_cascade2d` for CPU inference (no autograd) with the building
blocks of :mod:`scatter.engine.fourier`, as :mod:`scatter.engine.cpu2d` does for
:class:`scatter.Scattering2D`:

- each wavelet product is fused with the subsampling that follows it, over only the alias blocks
  where the filter is not negligible, with the real Morlet filters multiplied as real pairs;
- inverse FFTs run in place without their ``1 / n``, which the filters carry; the modulus goes
  through NumPy;
- the second-layer wavelets of every relative angle ``t2`` are views of one stack of ``4 L``
  filters (the circle's ``2 L`` angles twice): ``psi_{j2, t + t2}`` for ``t`` in ``[0, 2 L)`` is
  rows ``t2 .. t2 + 2 L`` of it, so no ``(L, 2L)`` table of filters is stored;
- large intermediates live in work buffers kept per thread between calls;
- the batch runs in chunks sized for the caches, side by side on worker threads of one intra-op
  thread each (:mod:`scatter._parallel`).
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from .._angular import angular_morlet, circulant
from .._parallel import chunk_count, chunk_workers, map_chunks
from .._roto_design import circle
from .fourier import (Workspace, block_products, fft2_of_real, filter_subsample, ifft_in_place,
                      modulus, restrict_blocks, significant_blocks, take)


def _pairs(design: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A real Fourier filter duplicated over a trailing (re, im) axis (see
    :func:`scatter.engine.fourier.filter_subsample`)."""
    return torch.from_numpy(np.ascontiguousarray(np.stack([design, design], axis=-1))).to(dtype)


class _Filtering:
    """One stack of real Fourier filters followed by a subsampling by ``factor``, with the alias
    blocks each of its filters needs (:func:`scatter.engine.fourier.significant_blocks`)."""

    def __init__(self, filt: torch.Tensor, factor: int, blocks: list | None) -> None:
        self.filt, self.factor = filt, factor
        self.products = None if factor == 1 else block_products(filt, factor, blocks)

    def __call__(self, u_hat: torch.Tensor, workspace: Workspace) -> torch.Tensor:
        return filter_subsample(u_hat, self.filt, self.factor, None, workspace, self.products)


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
    _SLOTS = ("input_spectrum", "product", "modulus", "spectrum", "angular")

    def __init__(self, plan, dtype: torch.dtype) -> None:
        self.plan = plan
        self.dtype = dtype
        self._local = threading.local()
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
                stack, step = _pairs(angles, dtype), 2 ** (res[j2] - res[j1])
                whole, first_half = [], []      # per t2: psi_{t + t2} for t < 2L, and for t < L
                for t2 in range(L):
                    blocks = significant_blocks(angles[t2:t2 + 2 * L], step) if step > 1 else None
                    whole.append(_Filtering(stack[t2:t2 + 2 * L], step, blocks))
                    first_half.append(_Filtering(stack[t2:t2 + L], step,
                                                 None if blocks is None else restrict_blocks(blocks, 0, L)))
                later.append((res[j2], whole, first_half))
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
        """Images per chunk: the largest intermediate of one image (the angular maps of the
        finest scale, or its first-layer maps) within the working-set target of one worker."""
        plan = self.plan
        M, N = plan.shape
        per_image = plan.L * M * N // 4 ** plan.res[0] * (max(2 * plan.K, 1) if plan.joint else 1)
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
        B, L = x.shape[0], plan.L
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
                    a_hat = self._doubled_angular(u1_hat, ws)                         # (B, K, 2L, m, n)
                mean_hat = torch.view_as_complex(torch.view_as_real(u1_hat).mean(1, keepdim=True))
            for res2, whole, first_half in self._later[j1]:
                if plan.joint:             # the angular mean path, by the absolute angle p
                    w = self._modulus_of_inverse(first_half[0](mean_hat, ws["product"]), ws)
                    second.append(self._average(w, res2))
                for t2 in range(L):
                    v = self._modulus_of_inverse(first_half[t2](u1_hat, ws["product"]), ws)
                    p = self._average(v, res2)                                          # (B, L[, h, w])
                    second.append(p)
                    if plan.joint and plan.K:
                        w = self._modulus_of_inverse(whole[t2](a_hat, ws["product"]), ws)
                        second.append(self._average(w, res2).flatten(1, 2))            # (B, K 2L[, h, w])
                    elif plan.K:
                        second.append(modulus(self._angular_conv(p)).flatten(1, 2))
        return torch.cat(zeroth + first + angular + second, dim=1, out=dest)

    def _doubled_angular(self, u1_hat: torch.Tensor, ws: dict) -> torch.Tensor:
        """``U1 ~*~ pbar_k`` in Fourier, over the ``2 L`` angles of the circle (it is
        ``pi``-periodic: the ``L`` angles twice), in a work buffer: (B, K, 2L, m, n)."""
        B, L = u1_hat.shape[:2]
        a = self._angular_conv(u1_hat)                                                # (B, K, L, m, n)
        out = take(ws["angular"], (B, a.shape[1], 2, L, *a.shape[3:]), a.dtype, a.device)
        out[:, :, 0] = a
        out[:, :, 1] = a
        return out.flatten(2, 3)

    def _workspaces(self) -> dict[str, Workspace]:
        """This thread's buffers for the large intermediates (threads never share one)."""
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {name: Workspace() for name in self._SLOTS}
        return slots

    def release_workspace(self) -> None:
        """Free the work buffers kept between calls."""
        self._local = threading.local()
