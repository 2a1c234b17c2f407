"""The CPU inference engine of :class:`scatter.Scattering2D`.

It computes :func:`scatter.core.cascade2d` for CPU inference (no autograd), faster and in less
memory:

- each wavelet product is fused with the subsampling that follows it, over only the alias blocks
  where the filter is not negligible (:func:`scatter.engine.fourier.filter_subsample`), with real
  Fourier filters multiplied as real pairs;
- inverse FFTs run in place (MKL's through torch's library where available,
  :mod:`scatter._mkl_fft`), with the ``1 / n`` and the subsampling's ``1 / factor**2`` folded into
  the filters; the modulus is written over the dead product's buffer;
- a separable low-pass (Morlet's Gaussian) is two small matrix products per map, a real and even
  one works on half spectra;
- large intermediates live in work buffers kept per thread between calls;
- the batch runs in chunks sized for the caches, side by side on worker threads of one intra-op
  thread each (:mod:`scatter._parallel`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .._design import crop_fourier, lowpass_matrix, separable_factors
from .._parallel import chunk_count, chunk_workers, map_chunks
from .fourier import (ThreadWorkspaces, Workspace, block_products, fft2_of_real, filter_subsample,
                      full_spectrum, ifft_in_place, lowpass_half_spectrum, modulus, restrict_blocks,
                      significant_blocks, take)


def _half_columns(spectrum: np.ndarray) -> np.ndarray:
    """Columns ``0 .. N // 2`` of a spectrum ``(M, N)``: the part ``rfft2`` keeps."""
    return spectrum[:, :spectrum.shape[1] // 2 + 1]


def is_real_even(phi: np.ndarray) -> bool:
    """Whether a Fourier filter is real and even, ``phi(-w) = phi(w)`` (to rounding)."""
    if np.iscomplexobj(phi) and np.abs(phi.imag).max() > 1e-12 * np.abs(phi).max():
        return False
    flipped = np.roll(np.flip(phi.real, axis=(0, 1)), 1, axis=(0, 1))
    return bool(np.abs(phi.real - flipped).max() <= 1e-12 * np.abs(phi).max())


def _stored(design: np.ndarray) -> tuple[np.ndarray, bool]:
    """A design as kept for the engine: complex as a trailing (re, im) axis (see ``_filter``)."""
    design = np.ascontiguousarray(design)
    if np.iscomplexobj(design):
        return np.ascontiguousarray(np.stack([design.real, design.imag], axis=-1)), True
    return design, False


class CpuEngine2D:
    """:func:`scatter.core.cascade2d` for CPU inference, on a network's plan, in one dtype.

    Parameters
    ----------
    plan : scatter.scattering2d.Plan2D
        The network's scales, resolutions, bank and grid (float64 designs).
    dtype : torch.dtype
        float32 or float64.
    pad : tuple of Tensor
        Row and column indices of the reflection padding (``None`` with ``pre_pad``).
    """

    # Working-set target, in complex values per intermediate (6 MB in float32), shared by the
    # chunks in flight: small enough for the caches and to stay under Kymatio's peak memory on
    # the benchmark's batches, large enough that per-operation overhead stays small (1-image
    # chunks of 128 x 128 ran 1.3x slower than 3-image ones).
    _CPU_TARGET = 3 << 18
    _SLOTS = ("input_spectrum", "product", "modulus", "spectrum")

    def __init__(self, plan, dtype: torch.dtype, pad) -> None:
        self.plan = plan
        self.dtype = dtype
        self.pad = pad
        self._tensors: dict[str, torch.Tensor] = {}
        self._complex: set[str] = set()
        self._blocks: dict[str, tuple] = {}
        self._products: dict = {}        # filters' alias-block views, see _filtered
        self._buffers = ThreadWorkspaces(self._SLOTS)  # work buffers of each calling thread
        self._build_filters()

    # ------------------------------------------------------------------------ construction
    def _register(self, name: str, tensor: torch.Tensor, is_complex: bool) -> None:
        """Keep a stored design (a tensor of the engine's dtype)."""
        self._tensors[name] = tensor
        if is_complex:
            self._complex.add(name)

    def _filter(self, name: str) -> torch.Tensor:
        """The filter ``name`` as used in products: real, or complex for complex designs."""
        t = self._tensors[name]
        return torch.view_as_complex(t) if name in self._complex else t

    def _build_filters(self) -> None:
        """Crop each filter to every resolution it is used at, with its factors folded in."""
        plan, bank, J = self.plan, self.plan.bank, self.plan.J
        res = plan.res
        for j, index in plan.groups:
            self._add_subsampling_filter(f"_psi1_{j}", lambda: bank.psi[index], 2 ** res[j], inverse_fft=True)
            # second order: psi_j2 applied to |x * psi_j1| at resolution 2**res[j1], for j1 < j2
            for j1, _ in plan.groups:
                if j1 < j and plan.max_order == 2:
                    self._add_subsampling_filter(
                        f"_psi2_{j1}_{j}", lambda: crop_fourier(bank.psi[index], 2 ** res[j1]),
                        2 ** (res[j] - res[j1]), inverse_fft=True)
        self._phi_even = is_real_even(bank.phi)
        self._phi_separable = self._add_separable_lowpass()
        for r in range(J):
            crop = lambda: crop_fourier(bank.phi, 2 ** r)  # noqa: E731
            if self._phi_even:  # half spectrum (columns 0 .. n // 2), used by lowpass_half_spectrum
                self._add_subsampling_filter(f"_phi_{r}", lambda: _half_columns(crop()), 2 ** (J - r),
                                             blocks=False)
            else:
                self._add_subsampling_filter(f"_phi_{r}", crop, 2 ** (J - r))

    def _bank_cache(self) -> dict:
        """Prepared designs kept on the (immutable) bank, so that networks sharing a bank (the
        default Morlet bank is shared per parameters) are built without redoing the work."""
        return self.plan.bank.__dict__.setdefault("_prepared_for_networks", {})

    def _add_subsampling_filter(self, name: str, make_design: Callable[[], np.ndarray], factor: int,
                                blocks: bool = True, inverse_fft: bool = False) -> None:
        """A filter always followed by a subsampling by ``factor``.

        The mean's ``1 / factor**2`` is folded into it (an exact power of two) and its significant
        alias blocks are listed. ``inverse_fft``: the subsampled product goes through an inverse
        FFT without its ``1 / n`` (``norm='forward'``, as MKL's in-place FFT runs, see
        :func:`ifft_in_place`), so ``1 / n`` (``n`` the pixels of the subsampled grid) is folded
        in as well. A real Fourier filter (Morlet's) used with alias blocks is stored duplicated
        over a trailing (re, im) axis, so that its product with complex data runs as a real
        product on ``view_as_real`` (see :func:`filter_subsample`: torch's complex products
        with broadcasting are up to 9x slower on CPU); other filters are stored complex (a
        complex-by-real product would be promoted on every call).
        """
        cache = self._bank_cache()
        # one entry per dtype: a float32 engine keeps no float64 copy of its filters
        key = (name, factor, blocks, inverse_fft, self.dtype)
        if key not in cache:
            design = make_design() / factor ** 2
            if inverse_fft:
                design = design / (design.shape[-2] * design.shape[-1] // factor ** 2)
            if blocks and not np.iscomplexobj(design):
                stored, is_complex = np.ascontiguousarray(np.stack([design, design], axis=-1)), False
            else:
                stored, is_complex = _stored(design.astype(np.complex128))
            cache[key] = (torch.from_numpy(stored).to(self.dtype), is_complex,
                          significant_blocks(design, factor) if blocks else None)
        tensor, is_complex, blocks = cache[key]
        self._register(name, tensor, is_complex)
        self._blocks[name] = (factor, blocks)

    def _add_separable_lowpass(self) -> bool:
        """Keep the low-pass as two matrices per resolution when ``phi`` is separable.

        ``phi(w1, w2) = a(w1) b(w2)`` (Morlet's Gaussian) makes the low-pass, subsampling and
        unpadding of a real map ``u`` at resolution ``2**res`` the product ``A @ u @ B`` with ``A``
        ``(h, m)`` and ``B`` ``(n, w)``: two small matrix products instead of a forward FFT, a
        product, a fold and an inverse FFT (5-10x faster on CPU). Returns whether it applies.
        """
        cache = self._bank_cache()
        J, (h, w) = self.plan.J, self.plan.output_shape
        key = ("_phi_separable", J, h, w, self.dtype)
        if key not in cache:
            matrices = []
            for r in range(J):
                factors = separable_factors(crop_fourier(self.plan.bank.phi, 2 ** r))
                if factors is None:
                    matrices = None
                    break
                a, b = factors
                A = np.ascontiguousarray(lowpass_matrix(a, 2 ** (J - r), 1, h).T)
                B = np.ascontiguousarray(lowpass_matrix(b, 2 ** (J - r), 1, w))
                matrices.append((torch.from_numpy(A).to(self.dtype), torch.from_numpy(B).to(self.dtype)))
            cache[key] = matrices
        if cache[key] is None:
            return False
        for r, (A, B) in enumerate(cache[key]):
            self._register(f"_phiA_{r}", A, False)
            self._register(f"_phiB_{r}", B, False)
        return True

    # ------------------------------------------------------------------------------ compute
    def run(self, x: torch.Tensor, check_input: bool, batch_size: int | None = None) -> torch.Tensor:
        """Coefficients ``(B, C, h, w)`` of a batch ``(B, M, N)`` (or padded, with ``pre_pad``)."""
        # chunks run side by side on threads of one intra-op thread each (see scatter._parallel)
        workers = chunk_workers(x)
        parts = self._chunks(x, workers, batch_size)
        # each chunk writes its coefficients straight into the output
        out = x.new_empty((x.shape[0], len(self.plan.rows), *self.plan.output_shape))
        dests = list(out.split([p.shape[0] for p in parts]))

        def one(part_dest, target=None):
            part, dest = part_dest
            return self._cascade(self._prepared(part, check_input), self._workspaces(), target, dest)

        done = None
        if len(parts) > 1 and workers > 1:
            target = self._CPU_TARGET // workers   # the chunks in flight share the working set
            done = map_chunks(lambda pd: one(pd, target), list(zip(parts, dests)), workers)
        if done is None:
            for pd in zip(parts, dests):
                one(pd)
        return out

    def _prepared(self, part: torch.Tensor, check_input: bool) -> torch.Tensor:
        """A chunk ``(b, M, N)`` of the input, checked for NaN/inf and padded to ``(b, M_p, N_p)``.

        Done per chunk, on the thread that runs it: on the calling thread these operations would
        use torch's intra-op threads, whose OpenMP workers then spin-wait for more work (libgomp's
        default) on the cores the chunk workers need: 13% of case (a)'s time on 2 cores.
        """
        if check_input:
            from .._base import check_finite

            check_finite(part)
        if self.pad is None:
            return part
        return part.index_select(-2, self.pad[0]).index_select(-1, self.pad[1])

    def _second_order_size(self, j1: int) -> int:
        """Complex values per image and per first-order map in the second-order step from ``j1``."""
        Mp, Np = self.plan.padded_shape
        res = self.plan.res
        return max([len(i2) * Mp * Np // 4 ** res[j2] for j2, i2 in self.plan.groups if j2 > j1] or [0])

    def _auto_batch_size(self, workers: int = 1) -> int:
        """Images per chunk: the working-set target shared by the ``workers`` chunks in flight (so
        that parallel chunks do not multiply the memory)."""
        Mp, Np = self.plan.padded_shape
        sizes = [Mp * Np] + [len(index) * Mp * Np // 4 ** self.plan.res[j] for j, index in self.plan.groups]
        if self.plan.max_order == 2:
            sizes += [self._second_order_size(j1) for j1, _ in self.plan.groups]
        return max(1, self._CPU_TARGET // workers // max(sizes))

    def _chunks(self, x: torch.Tensor, workers: int, batch_size: int | None) -> list[torch.Tensor]:
        """The batch in the chunks the cascade takes one at a time.

        ``batch_size`` images each when given; otherwise no more than the automatic size, in a
        number of chunks that is a multiple of ``workers`` where the batch allows (every worker
        gets the same share), of sizes that differ by at most one image.
        """
        if batch_size is not None:
            return list(x.split(batch_size))
        n = chunk_count(x.shape[0], self._auto_batch_size(workers), workers)
        return list(x.tensor_split(n)) if n > 1 else [x]

    def _maps_per_pass(self, j1: int, batch: int, n_maps: int, target: int) -> int:
        """First-order maps sent together through the second-order step (bounds its memory)."""
        return max(1, target // max(1, batch * self._second_order_size(j1)))

    def _first_order_parts(self, j1: int, batch: int, n_maps: int, target: int) -> list[slice]:
        """The scale-``j1`` wavelets in near-equal groups whose maps for ``batch`` images stay under
        1.5 times the working-set ``target`` (a chunk of one large image would otherwise hold all
        of them: 8 wavelets on a 1056 x 1056 grid are 71 MB per intermediate). Splitting costs
        about 10% when it is barely needed, hence the slack."""
        Mp, Np = self.plan.padded_shape
        size = batch * Mp * Np // 4 ** self.plan.res[j1]
        n_parts = -(-n_maps // max(1, 3 * target // 2 // max(1, size)))
        step = -(-n_maps // n_parts)
        return [slice(lo, lo + step) for lo in range(0, n_maps, step)]

    def _filtered(self, u_hat: torch.Tensor, name: str, workspace: Workspace | None = None,
                  part: slice = slice(None)) -> torch.Tensor:
        """``subsample(u_hat * filter, factor)`` for the filters ``name[part]``."""
        factor, blocks = self._blocks[name]
        filt = self._filter(name)
        lo, hi, _ = part.indices(filt.shape[0])
        filt = filt[part]
        if blocks is None or factor == 1:
            return filter_subsample(u_hat, filt, factor, blocks, workspace)
        key = (name, lo, hi)
        kept = self._products.get(key)
        if kept is None:   # the blocks of this part, once per part
            kept = self._products[key] = block_products(filt, factor, restrict_blocks(blocks, lo, hi))
        return filter_subsample(u_hat, filt, factor, None, workspace, kept)

    def _lowpass(self, u: torch.Tensor, r_hat: torch.Tensor | None, res: int) -> torch.Tensor:
        """``u * phi_J`` for a real map ``u`` at resolution ``2**res``, subsampled to ``2**J``, unpadded.

        ``r_hat`` is the map's half spectrum (``rfft2``) or its full spectrum; with a real, even
        low-pass (Morlet's Gaussian) the product stays on half spectra.
        """
        if self._phi_separable:
            # rows first: a batch of small products beats one tall product with few columns
            return torch.matmul(torch.matmul(self._filter(f"_phiA_{res}"), u), self._filter(f"_phiB_{res}"))
        name, J = f"_phi_{res}", self.plan.J
        if self._phi_even:
            if r_hat is None:
                r_hat = torch.fft.rfft2(u)
            width = u.shape[-1]
            s = lowpass_half_spectrum(r_hat[..., :width // 2 + 1], self._filter(name), 2 ** (J - res), width)
        else:
            s = torch.fft.ifft2(self._filtered(torch.fft.fft2(u) if r_hat is None or r_hat.shape[-1] != u.shape[-1]
                                               else r_hat, name)).real
        return s[..., 1:-1, 1:-1]

    def _cascade(self, x: torch.Tensor, ws: dict[str, Workspace], target: int | None,
                 dest: torch.Tensor) -> torch.Tensor:
        """Padded batch ``(B, M_p, N_p)`` to coefficients ``(B, C, h, w)`` written into ``dest``.

        ``ws``: this thread's work buffers; ``target``: the working-set target of this chunk in
        complex values (default ``_CPU_TARGET``).
        """
        target = target or self._CPU_TARGET
        B = x.shape[0]
        x_hat = fft2_of_real(x, ws["input_spectrum"])
        out = [self._lowpass(x, x_hat, 0)[:, None]]
        second = []
        for j1, index1 in self.plan.groups:
            for part in self._first_order_parts(j1, B, len(index1), target):
                s1, s2 = self._from_first_order(x_hat, j1, part, ws, target)
                out.append(s1)
                if s2 is not None:
                    second.append(s2)
        return torch.cat(out + second, dim=1, out=dest)

    @staticmethod
    def _ifft2_modulus(z: torch.Tensor, ws: dict) -> torch.Tensor:
        """``|ifft2(z)|`` without the ``1 / n`` (the filters carry it): the product ``z`` is dead
        once transformed, so it is transformed in place (:func:`ifft_in_place`) and the modulus
        goes into a work buffer half its size."""
        y = ifft_in_place(z, 2, norm="forward")
        return modulus(y, take(ws["modulus"], y.shape, y.real.dtype, y.device))

    def _from_first_order(self, x_hat: torch.Tensor, j1: int, part: slice, ws: dict,
                          target: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Coefficients from the scale-``j1`` wavelets ``part``: order 1 ``(B, l1, h, w)`` and
        order 2 ``(B, l1 * L2, h, w)`` (``None`` when no scale follows ``j1``)."""
        B = x_hat.shape[0]
        res = self.plan.res
        product = self._filtered(x_hat[:, None], f"_psi1_{j1}", ws["product"], part)
        u1 = self._ifft2_modulus(product, ws)                                    # (B, l1, m, n)
        later = [j2 for j2, _ in self.plan.groups if j2 > j1] if self.plan.max_order == 2 else []
        # the half spectrum only where the low-pass takes it (a non-separable phi)
        r1 = None if self._phi_separable else torch.fft.rfft2(u1)
        s1 = self._lowpass(u1, r1, res[j1])
        if not later:
            return s1, None
        u1_hat = (fft2_of_real(u1, ws["spectrum"]) if r1 is None
                  else full_spectrum(r1, u1.shape[-1], ws["spectrum"]))[:, :, None]  # (B, l1, 1, m, n)
        del u1, r1  # drop maps as soon as they are used: bounds the peak memory
        step = self._maps_per_pass(j1, B, u1_hat.shape[1], target)
        parts = []
        for maps in u1_hat.split(step, dim=1):
            per_j2 = [self._lowpass(self._ifft2_modulus(self._filtered(maps, f"_psi2_{j1}_{j2}", ws["product"]),
                                                        ws), None, res[j2]) for j2 in later]  # (B, l1, L2, h, w)
            parts.append(torch.cat(per_j2, dim=2))
        s2 = torch.cat(parts, dim=1)
        return s1, s2.reshape(B, -1, *s2.shape[-2:])

    def _workspaces(self) -> dict[str, Workspace]:
        """This thread's buffers for the large intermediates (threads never share one)."""
        return self._buffers.get()

    def release_workspace(self) -> None:
        """Free the work buffers kept between calls."""
        self._buffers.release()
