"""The 2D scattering network: a batched cascade of wavelet modulus operators in PyTorch."""
from __future__ import annotations

import functools
import threading
from typing import Callable

import numpy as np
import torch

from .filters import FilterBank, morlet_2d
from ._validation import check_choice, check_int, check_scales_fit, check_shape

from ._buffers import FilterBuffers, as_stored_design
from ._frontend import (Workspace, block_products, check_bank, check_finite, cpu_inference, crop_fourier,
                        fft2_of_real, filter_subsample, full_spectrum, ifft_in_place, lowpass_half_spectrum,
                        lowpass_matrix, modulus, reflect_indices, separable_factors,
                        restrict_blocks, significant_blocks, take, to_output, to_tensor)
from ._parallel import chunk_count, chunk_workers, map_chunks


def padded_shape_2d(shape, J: int) -> tuple[int, int]:
    """Kymatio's padded grid for an ``(M, N)`` input and ``J`` scales.

    ``M_p = (floor((M + 2**J) / 2**J) + 1) * 2**J`` (and the same for ``N``): a multiple of ``2**J``
    with at least ``2**J`` pixels of reflection padding in total. Filters for a network on
    ``shape`` are designed on this grid.

    Parameters
    ----------
    shape : (int, int)
        ``(M, N)`` of the input images.
    J : int >= 0
        Number of scales.

    Returns
    -------
    (int, int)
        ``(M_p, N_p)``.

    Examples
    --------
    >>> from scatter import padded_shape_2d
    >>> padded_shape_2d((32, 32), J=2), padded_shape_2d((128, 96), J=3)
    ((40, 40), (144, 112))
    """
    M, N = check_shape("shape", shape, 2)
    step = 2 ** check_int("J", J, minimum=0)
    return ((M + step) // step + 1) * step, ((N + step) // step + 1) * step


def _resolutions(bank: FilterBank, groups) -> dict[int, int]:
    """log2 of the subsampling after the band-pass filters of each scale ``j``.

    ``j`` itself (Kymatio's rule), unless the bank reports each filter's support radius in
    ``meta['max_freq']`` (cycles/sample): then the largest subsampling whose Nyquist frequency
    the filters of that scale stay under (curvelets reach ``0.75 * 2**-j``: they get ``j - 1``),
    never decreasing with ``j``.
    """
    out, previous = {}, 0
    for j, index in groups:
        r = j
        if "max_freq" in bank.meta:
            reach = float(np.max(bank.meta["max_freq"][index]))
            if reach > 0:
                r = min(j, max(0, int(np.floor(np.log2(0.5 / reach)))))
        out[j] = previous = max(r, previous)
    return out


def _half_columns(spectrum: np.ndarray) -> np.ndarray:
    """Columns ``0 .. N // 2`` of a spectrum ``(M, N)``: the part ``rfft2`` keeps."""
    return spectrum[:, :spectrum.shape[1] // 2 + 1]


def _is_real_even(phi: np.ndarray) -> bool:
    """Whether a Fourier filter is real and even, ``phi(-w) = phi(w)`` (to rounding)."""
    if np.iscomplexobj(phi) and np.abs(phi.imag).max() > 1e-12 * np.abs(phi).max():
        return False
    flipped = np.roll(np.flip(phi.real, axis=(0, 1)), 1, axis=(0, 1))
    return bool(np.abs(phi.real - flipped).max() <= 1e-12 * np.abs(phi).max())


@functools.lru_cache(maxsize=8)
def _default_bank(grid: tuple[int, int], J: int, L: int) -> FilterBank:
    """Kymatio's Morlet bank on ``grid``, designed once per parameters (networks only read it)."""
    return morlet_2d(grid, J, L)


class Scattering2D(FilterBuffers):
    r"""2D scattering transform, as in Kymatio 0.3 but fed by any 2D filter bank.

    Computes ``S0 = x * phi_J``, ``S1 = |x * psi_l1| * phi_J`` and
    ``S2 = ||x * psi_l1| * psi_l2| * phi_J`` (``j2 > j1``), each subsampled by ``2**J``
    (Bruna & Mallat, IEEE TPAMI 2013). Convolutions are products in the Fourier domain on a
    reflection-padded grid; each wavelet modulus map is computed at the resolution its scale allows.

    Parameters
    ----------
    J : int >= 1
        Number of scales: the output is averaged over and subsampled by ``2**J``.
    shape : tuple (M, N)
        Spatial size of the input. ``2**J <= min(M, N)``.
    L : int
        Number of orientations of the default Morlet bank (ignored when ``bank`` is given).
    max_order : {1, 2}
        Highest scattering order.
    pre_pad : bool
        The input is already padded to :func:`padded_shape_2d` ``(shape, J)`` (no padding here).
    out_type : {'array', 'list'}
        ``'array'``: one tensor ``(..., C, M_p / 2**J - 2, N_p / 2**J - 2)``; ``'list'``: one dict per
        path with ``'coef'`` (``(..., h, w)``), ``'j'``, ``'theta'``, ``'n'``, ``'order'``.
    bank : FilterBank or callable, optional
        The filters. A :class:`scatter.filters.FilterBank` on the padded grid (see below), or a callable
        ``bank(padded_shape) -> FilterBank``. Default: ``filters.morlet_2d(padded, J, L)``, which
        gives Kymatio's numbers.
    check_input : bool
        Check the input for NaN/inf (one device-to-host sync per chunk, see ``batch_size``).
    batch_size : int, optional
        Images per pass through the cascade: bounds the memory of the intermediate maps.
        Default: on the CPU, as many as keep the largest intermediate near 3 * 2**18 complex values
        (cache-friendly, about 2x faster than one huge pass); on a GPU, the whole batch. On the
        CPU without autograd, with ``torch.get_num_threads() = n > 1``, the chunks run ``n`` at a
        time on worker threads that each use one intra-op thread (1.1-1.5x faster than splitting
        every operation across the cores); the chunks in flight share the working-set target.

    What a bank must provide
    ------------------------
    ``bank.ndim == 2`` and ``bank.shape`` equal to the padded grid :func:`padded_shape_2d`
    (or to ``shape`` with ``pre_pad=True``); a low-pass ``phi`` of scale ``2**J``; an integer
    ``meta['j']`` in ``[0, J)`` for every band-pass, where ``psi`` with scale ``j`` is
    (essentially) supported at frequencies ``|w| < pi / 2**j`` so that its modulus may be
    subsampled by ``2**j`` (as Kymatio assumes of Morlet wavelets); a bank whose filters reach
    further gives their support radius in ``meta['max_freq']`` (cycles/sample) and the network
    subsamples less (curvelets: by ``2**(j-1)``). Optionally ``meta['theta']`` (orientation
    index). Fourier filters may be real or complex; a real, even ``phi`` takes a faster
    half-spectrum path. Filters are grouped by ``j``; groups may differ in size (curvelets double
    their angles every other scale).

    Curvelet scattering
    -------------------
    ``bank=lambda grid: filters.curvelet_2d(grid, scales=J + 1, angles=16)`` scatters with
    curvelets (Candes et al. 2006). Compared with Morlet scattering: the first layer is a tight
    frame (Littlewood-Paley sum exactly 1, energy conserved, ``psi(0) = 0`` exactly) rather than
    Kymatio's frame with bounds about [0.12, 1.02]; the windows are compactly supported in
    frequency but reach further (0.75 * 2**-j cycles/sample), so moduli are kept at resolution
    ``2**(j-1)`` (see ``meta['max_freq']`` above); the number of orientations grows with scale
    (parabolic scaling: needles whose width is about their length squared) instead of a fixed L,
    so the channel count is not ``1 + J L + L^2 J (J - 1) / 2``; the real bank pairs opposite
    wedges, so an angle index spans ``pi``; and the low-pass has cross-shaped side lobes (its
    window is separable).

    Examples
    --------
    >>> import torch
    >>> from scatter import Scattering2D
    >>> S = Scattering2D(J=2, shape=(32, 32))
    >>> S(torch.randn(5, 3, 32, 32)).shape
    torch.Size([5, 3, 81, 8, 8])
    """

    def __init__(self, J: int, shape, L: int = 8, max_order: int = 2, pre_pad: bool = False,
                 out_type: str = "array", bank: FilterBank | Callable | None = None,
                 check_input: bool = True, batch_size: int | None = None) -> None:
        super().__init__()
        self.J = check_int("J", J, minimum=1)
        self.shape = check_shape("shape", shape, 2)
        check_scales_fit(self.J, self.shape)
        self.L = check_int("L", L, minimum=1)
        self.max_order = check_choice("max_order", max_order, (1, 2))
        self.pre_pad = bool(pre_pad)
        self.out_type = check_choice("out_type", out_type, ("array", "list"))
        self.check_input = bool(check_input)
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, minimum=1)

        self._local = threading.local()  # work buffers of each calling thread (see _workspaces)
        self._products: dict = {}         # filters' alias-block views, see _filtered
        self.padded_shape = padded_shape_2d(self.shape, self.J)
        grid = self.padded_shape
        if bank is None:
            bank = _default_bank(grid, self.J, self.L)
        elif callable(bank) and not isinstance(bank, FilterBank):
            bank = bank(grid)
        self.bank = self._check_bank(bank, grid)

        M, N = self.shape
        Mp, Np = grid
        self.register_buffer("_pad_rows", reflect_indices(M, (Mp - M) // 2, (Mp - M + 1) // 2), persistent=False)
        self.register_buffer("_pad_cols", reflect_indices(N, (Np - N) // 2, (Np - N + 1) // 2), persistent=False)
        self._build_filters()

    # ------------------------------------------------------------------------ construction
    def _check_bank(self, bank, grid) -> FilterBank:
        check_bank(bank, tuple(grid), f"the padded grid {tuple(grid)} (padded_shape_2d({self.shape}, "
                   f"J={self.J}))", self.J - 1, f"[0, J={self.J})")
        return bank

    def _build_filters(self) -> None:
        """Crop each filter to every resolution it is used at and register it as a buffer."""
        bank, J = self.bank, self.J
        js = bank.meta["j"]
        thetas = bank.meta.get("theta", np.zeros(len(bank), dtype=int))
        self._groups: list[tuple[int, np.ndarray]] = [(j, np.flatnonzero(js == j)) for j in range(J)
                                                       if np.any(js == j)]
        self._res = _resolutions(bank, self._groups)
        res = self._res
        self._blocks: dict[str, list] = {}
        for j, index in self._groups:
            self._add_subsampling_filter(f"_psi1_{j}", lambda: bank.psi[index], 2 ** res[j], inverse_fft=True)
            # second order: psi_j2 applied to |x * psi_j1| at resolution 2**res[j1], for j1 < j2
            for j1, _ in self._groups:
                if j1 < j and self.max_order == 2:
                    self._add_subsampling_filter(f"_psi2_{j1}_{j}", lambda: crop_fourier(bank.psi[index], 2 ** res[j1]),
                                                 2 ** (res[j] - res[j1]), inverse_fft=True)
        self._phi_even = _is_real_even(bank.phi)
        self._phi_separable = self._add_separable_lowpass()
        for res in range(J):
            crop = lambda: crop_fourier(bank.phi, 2 ** res)  # noqa: E731
            if self._phi_even:  # half spectrum (columns 0 .. n // 2), used by lowpass_half_spectrum
                self._add_subsampling_filter(f"_phi_{res}", lambda: _half_columns(crop()), 2 ** (J - res),
                                             blocks=False)
            else:
                self._add_subsampling_filter(f"_phi_{res}", crop, 2 ** (J - res))
        self._meta = self._path_meta(js, thetas)

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
        complex-by-real product would be promoted on every call). The prepared filters are kept on
        the bank, so networks sharing a bank (the default Morlet bank is shared per parameters) are
        built without redoing the work.
        """
        cache = self.bank.__dict__.setdefault("_prepared_for_networks", {})
        key = (name, factor, blocks, inverse_fft)
        if key not in cache:
            design = make_design() / factor ** 2
            if inverse_fft:
                design = design / (design.shape[-2] * design.shape[-1] // factor ** 2)
            if blocks and not np.iscomplexobj(design):
                stored, is_complex = np.ascontiguousarray(np.stack([design, design], axis=-1)), False
            else:
                stored, is_complex = as_stored_design(design.astype(np.complex128))
            cache[key] = (stored, is_complex, torch.from_numpy(stored).to(torch.float32),
                          significant_blocks(design, factor) if blocks else None)
        stored, is_complex, tensor, blocks = cache[key]
        self._register_design(name, stored, is_complex, tensor)
        self._blocks[name] = (factor, blocks)

    def _add_separable_lowpass(self) -> bool:
        """Register the low-pass as two matrices per resolution when ``phi`` is separable.

        ``phi(w1, w2) = a(w1) b(w2)`` (Morlet's Gaussian) makes the low-pass, subsampling and
        unpadding of a real map ``u`` at resolution ``2**res`` the product ``A @ u @ B`` with ``A``
        ``(h, m)`` and ``B`` ``(n, w)``: two small matrix products instead of a forward FFT, a
        product, a fold and an inverse FFT (5-10x faster on CPU). Returns whether it applies.
        """
        cache = self.bank.__dict__.setdefault("_prepared_for_networks", {})
        J, (h, w) = self.J, self.output_shape
        key = ("_phi_separable", J, h, w)
        if key not in cache:
            matrices = []
            for res in range(J):
                factors = separable_factors(crop_fourier(self.bank.phi, 2 ** res))
                if factors is None:
                    matrices = None
                    break
                a, b = factors
                A = np.ascontiguousarray(lowpass_matrix(a, 2 ** (J - res), 1, h).T)
                B = lowpass_matrix(b, 2 ** (J - res), 1, w)
                matrices.append((A, torch.from_numpy(A).to(torch.float32),
                                 B, torch.from_numpy(B).to(torch.float32)))
            cache[key] = matrices
        if cache[key] is None:
            return False
        for res, (A, A32, B, B32) in enumerate(cache[key]):
            self._register_design(f"_phiA_{res}", A, False, A32)
            self._register_design(f"_phiB_{res}", B, False, B32)
        return True

    def _filtered(self, u_hat: torch.Tensor, name: str, workspace: Workspace | None = None,
                  part: slice = slice(None)) -> torch.Tensor:
        """``subsample(u_hat * filter, factor)`` for the filters ``name[part]``."""
        factor, blocks = self._blocks[name]
        filt = self._filter(name)
        lo, hi, _ = part.indices(filt.shape[0])
        filt = filt[part]
        if blocks is None or factor == 1:
            return filter_subsample(u_hat, filt, factor, blocks, workspace)
        if filt.requires_grad:  # block views of learnable filters would outlive their graph
            return filter_subsample(u_hat, filt, factor, restrict_blocks(blocks, lo, hi), workspace)
        key, buffer = (name, lo, hi), self._buffers[name]
        kept = self._products.get(key)
        if kept is None or kept[0] is not buffer:   # the blocks of this part, once per part
            kept = self._products[key] = (buffer, block_products(filt, factor, restrict_blocks(blocks, lo, hi)))
        return filter_subsample(u_hat, filt, factor, None, workspace, kept[1])

    def _path_meta(self, js, thetas) -> dict:
        rows = [(0, (), (), ())]
        for j1, index1 in self._groups:
            rows += [(1, (j1,), (int(thetas[n1]),), (int(n1),)) for n1 in index1]
        if self.max_order == 2:
            for j1, index1 in self._groups:
                for n1 in index1:
                    for j2, index2 in self._groups:
                        if j2 > j1:
                            rows += [(2, (j1, j2), (int(thetas[n1]), int(thetas[n2])), (int(n1), int(n2)))
                                     for n2 in index2]
        return {"rows": rows}

    # -------------------------------------------------------------------------------- info
    @property
    def output_shape(self) -> tuple[int, int]:
        """Spatial size ``(h, w)`` of the coefficients."""
        step = 2 ** self.J
        return self.padded_shape[0] // step - 2, self.padded_shape[1] // step - 2

    def meta(self) -> dict:
        """Describe every output channel, in output order.

        Returns
        -------
        dict of ndarray, each of length C (the number of channels)
            ``'order'`` (int), ``'j'`` (C, 2) and ``'theta'`` (C, 2) of the first and second
            wavelet (NaN where the order has none), ``'n'`` (C, 2) the filter indices in the bank,
            ``'key'`` a list of ``(j, theta)`` tuples like Kymatio's ``(j1, j2)`` keys.
        """
        rows = self._meta["rows"]
        out = {"order": np.array([r[0] for r in rows])}
        for pos, name in ((1, "j"), (2, "theta"), (3, "n")):
            arr = np.full((len(rows), 2), np.nan)
            for i, r in enumerate(rows):
                arr[i, :len(r[pos])] = r[pos]
            out[name] = arr
        out["key"] = [tuple(zip(r[1], r[2])) for r in rows]
        return out

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.shape}, L={self.L}, max_order={self.max_order}, "
                f"bank={self.bank.name!r} ({len(self.bank)} filters), out_type={self.out_type!r}")

    # ------------------------------------------------------------------------------ compute
    def forward(self, x):
        """Scattering coefficients of ``x``.

        Parameters
        ----------
        x : Tensor or ndarray, shape (..., M, N), real float32/float64 (the module's dtype)

        Returns
        -------
        Tensor or ndarray, shape (..., C, h, w) (``out_type='array'``), or a list of dicts.
        """
        phi0 = self._phi_0
        x, from_numpy = to_tensor(x, phi0.dtype, phi0.device, ndim=2)
        expected = self.padded_shape if self.pre_pad else self.shape
        if tuple(x.shape[-2:]) != tuple(expected):
            raise ValueError(f"x has spatial shape {tuple(x.shape[-2:])}, expected {tuple(expected)}"
                             + (" (pre_pad=True: the padded shape)" if self.pre_pad else ""))
        lead = x.shape[:-2]
        x = x.reshape(-1, *x.shape[-2:])
        # inference on the CPU writes the large intermediates into buffers kept between calls, and
        # runs chunks side by side on threads of one intra-op thread each (see scatter._parallel)
        reuse = cpu_inference(x)
        workers = chunk_workers(x)
        parts = self._chunks(x, workers)
        # without autograd each chunk writes its coefficients straight into the output
        blocks = x.new_empty((x.shape[0], len(self._meta["rows"]), *self.output_shape)) if reuse else None
        dests = list(blocks.split([p.shape[0] for p in parts])) if reuse else [None] * len(parts)
        outs = None
        if len(parts) > 1 and workers > 1:
            target = self._CPU_TARGET // workers   # the chunks in flight share the working set
            outs = map_chunks(lambda pd: self._cascade(self._prepared(pd[0]), self._workspaces(), target, pd[1]),
                              list(zip(parts, dests)), workers)
        if outs is None:
            ws = self._workspaces() if reuse else None
            outs = [self._cascade(self._prepared(part), ws, dest=dest) for part, dest in zip(parts, dests)]
        if blocks is None:
            blocks = outs[0] if len(outs) == 1 else torch.cat(outs)
        if self.out_type == "list":
            out, c = [], 0
            for (order, js, thetas, ns) in self._meta["rows"]:
                coef = blocks[:, c].reshape(*lead, *blocks.shape[-2:])
                out.append({"coef": to_output(coef, from_numpy), "j": js, "theta": thetas, "n": ns,
                            "order": order})
                c += 1
            return out
        return to_output(blocks.reshape(*lead, *blocks.shape[1:]), from_numpy)

    def _prepared(self, part: torch.Tensor) -> torch.Tensor:
        """A chunk ``(b, M, N)`` of the input, checked for NaN/inf and padded to ``(b, M_p, N_p)``.

        Done per chunk, on the thread that runs it: on the calling thread these operations would
        use torch's intra-op threads, whose OpenMP workers then spin-wait for more work (libgomp's
        default) on the cores the chunk workers need: 13% of case (a)'s time on 2 cores.
        """
        if self.check_input:
            check_finite(part)
        if self.pre_pad:
            return part
        return part.index_select(-2, self._pad_rows).index_select(-1, self._pad_cols)

    # Working-set target of the CPU path, in complex values per intermediate (6 MB in float32),
    # shared by the chunks in flight: small enough for the caches and to stay under Kymatio's
    # peak memory on the benchmark's batches, large enough that per-operation overhead stays
    # small (1-image chunks of 128 x 128 ran 1.3x slower than 3-image ones).
    _CPU_TARGET = 3 << 18

    def _second_order_size(self, j1: int) -> int:
        """Complex values per image and per first-order map in the second-order step from ``j1``."""
        Mp, Np = self.padded_shape
        return max([len(i2) * Mp * Np // 4 ** self._res[j2] for j2, i2 in self._groups if j2 > j1] or [0])

    def _auto_batch_size(self, device: torch.device, workers: int = 1) -> int:
        """Images per chunk: on the CPU, the working-set target shared by the ``workers`` chunks
        in flight (so that parallel chunks do not multiply the memory)."""
        if device.type != "cpu":
            return 1 << 30
        Mp, Np = self.padded_shape
        sizes = [Mp * Np] + [len(index) * Mp * Np // 4 ** self._res[j] for j, index in self._groups]
        if self.max_order == 2:
            sizes += [self._second_order_size(j1) for j1, _ in self._groups]
        return max(1, self._CPU_TARGET // workers // max(sizes))

    def _chunks(self, x: torch.Tensor, workers: int) -> list[torch.Tensor]:
        """The batch ``(B, M_p, N_p)`` in the chunks the cascade takes one at a time.

        ``batch_size`` images each when given; otherwise no more than the automatic size, in a
        number of chunks that is a multiple of ``workers`` where the batch allows (every worker
        gets the same share), of sizes that differ by at most one image.
        """
        B = x.shape[0]
        if self.batch_size is not None:
            return list(x.split(self.batch_size))
        n = chunk_count(B, self._auto_batch_size(x.device, workers), workers)
        return list(x.tensor_split(n)) if n > 1 else [x]

    def _maps_per_pass(self, j1: int, batch: int, n_maps: int, device: torch.device, target: int) -> int:
        """First-order maps sent together through the second-order step (bounds its memory)."""
        if device.type != "cpu" or self.batch_size is not None:
            return n_maps
        return max(1, target // max(1, batch * self._second_order_size(j1)))

    def _first_order_parts(self, j1: int, batch: int, n_maps: int, device: torch.device,
                           target: int) -> list[slice]:
        """The scale-``j1`` wavelets in near-equal groups whose maps for ``batch`` images stay under
        1.5 times the working-set ``target`` (a chunk of one large image would otherwise hold all
        of them: 8 wavelets on a 1056 x 1056 grid are 71 MB per intermediate). Splitting costs
        about 10% when it is barely needed, hence the slack."""
        if device.type != "cpu" or self.batch_size is not None:
            return [slice(None)]
        Mp, Np = self.padded_shape
        size = batch * Mp * Np // 4 ** self._res[j1]
        n_parts = -(-n_maps // max(1, 3 * target // 2 // max(1, size)))
        step = -(-n_maps // n_parts)
        return [slice(lo, lo + step) for lo in range(0, n_maps, step)]

    def _lowpass(self, u: torch.Tensor, r_hat: torch.Tensor | None, res: int) -> torch.Tensor:
        """``u * phi_J`` for a real map ``u`` at resolution ``2**res``, subsampled to ``2**J``, unpadded.

        ``r_hat`` is the map's half spectrum (``rfft2``) or its full spectrum; with a real, even
        low-pass (Morlet's Gaussian) the product stays on half spectra.
        """
        if self._phi_separable:
            # rows first: a batch of small products beats one tall product with few columns
            return torch.matmul(torch.matmul(self._filter(f"_phiA_{res}"), u), self._filter(f"_phiB_{res}"))
        name = f"_phi_{res}"
        if self._phi_even:
            if r_hat is None:
                r_hat = torch.fft.rfft2(u)
            width = u.shape[-1]
            s = lowpass_half_spectrum(r_hat[..., :width // 2 + 1], self._filter(name), 2 ** (self.J - res), width)
        else:
            s = torch.fft.ifft2(self._filtered(torch.fft.fft2(u) if r_hat is None or r_hat.shape[-1] != u.shape[-1]
                                               else r_hat, name)).real
        return s[..., 1:-1, 1:-1]

    def _cascade(self, x: torch.Tensor, ws: dict[str, Workspace] | None = None,
                 target: int | None = None, dest: torch.Tensor | None = None) -> torch.Tensor:
        """Padded batch ``(B, M_p, N_p)`` to coefficients ``(B, C, h, w)``.

        ``ws``: workspaces for the large intermediates (see :meth:`_workspaces`), or ``None``.
        ``target``: working-set target of this chunk in complex values (default ``_CPU_TARGET``).
        ``dest``: a contiguous ``(B, C, h, w)`` tensor to write the coefficients into (no autograd).
        """
        target = target or self._CPU_TARGET
        w = ws or {}
        B = x.shape[0]
        x_hat = fft2_of_real(x, w.get("input_spectrum"))
        out = [self._lowpass(x, x_hat, 0)[:, None]]
        second = []
        for j1, index1 in self._groups:
            for part in self._first_order_parts(j1, B, len(index1), x.device, target):
                s1, s2 = self._from_first_order(x_hat, j1, part, w, target)
                out.append(s1)
                if s2 is not None:
                    second.append(s2)
        return torch.cat(out + second, dim=1, out=dest)

    @staticmethod
    def _ifft2_modulus(z: torch.Tensor, w: dict) -> torch.Tensor:
        """``|ifft2(z)|`` without the ``1 / n`` (the filters carry it). With workspaces (CPU
        inference) the product ``z`` is dead once transformed: it is transformed in place
        (:func:`ifft_in_place`) and the modulus goes into a work buffer half its size, half an
        intermediate less than a fresh FFT output."""
        if not w:
            return modulus(torch.fft.ifft2(z, norm="forward"))
        y = ifft_in_place(z, 2, norm="forward")
        return modulus(y, take(w.get("modulus"), y.shape, y.real.dtype, y.device))

    def _from_first_order(self, x_hat: torch.Tensor, j1: int, part: slice, w: dict,
                          target: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Coefficients from the scale-``j1`` wavelets ``part``: order 1 ``(B, l1, h, w)`` and
        order 2 ``(B, l1 * L2, h, w)`` (``None`` when no scale follows ``j1``)."""
        B = x_hat.shape[0]
        product = self._filtered(x_hat[:, None], f"_psi1_{j1}", w.get("product"), part)
        u1 = self._ifft2_modulus(product, w)                                     # (B, l1, m, n)
        later = [j2 for j2, _ in self._groups if j2 > j1] if self.max_order == 2 else []
        # the half spectrum only where the low-pass takes it (a non-separable phi)
        r1 = None if self._phi_separable else torch.fft.rfft2(u1)
        s1 = self._lowpass(u1, r1, self._res[j1])
        if not later:
            return s1, None
        u1_hat = (fft2_of_real(u1, w.get("spectrum")) if r1 is None
                  else full_spectrum(r1, u1.shape[-1], w.get("spectrum")))[:, :, None]  # (B, l1, 1, m, n)
        del u1, r1  # drop maps as soon as they are used: bounds the peak memory
        step = self._maps_per_pass(j1, B, u1_hat.shape[1], x_hat.device, target)
        parts = []
        for maps in u1_hat.split(step, dim=1):
            per_j2 = [self._lowpass(self._ifft2_modulus(self._filtered(maps, f"_psi2_{j1}_{j2}",
                                                                       w.get("product")), w),
                                    None, self._res[j2]) for j2 in later]  # (B, l1, L2, h, w)
            parts.append(torch.cat(per_j2, dim=2))
        s2 = torch.cat(parts, dim=1)
        return s1, s2.reshape(B, -1, *s2.shape[-2:])

    _SLOTS = ("input_spectrum", "product", "modulus", "spectrum")

    def _workspaces(self) -> dict[str, Workspace]:
        """This thread's buffers for the large intermediates (threads never share one)."""
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {name: Workspace() for name in self._SLOTS}
        return slots

    def release_workspace(self) -> None:
        """Free the work buffers kept between calls without autograd.

        On the CPU, inference writes the wavelet products (then their moduli) and full spectra
        into buffers reused from one call to the next (each about as large as the biggest such
        intermediate of a chunk, a few MB with the automatic chunking): fresh ones cost more in
        page faults than the products themselves.
        """
        self._local = threading.local()

    def __getstate__(self):
        state = dict(super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__)
        state.pop("_local", None)   # buffers are a cache, and thread-locals do not pickle
        state.pop("_products", None)
        return state

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        self._local = threading.local()
        self._products = {}

    def _apply(self, fn, *args, **kwargs):
        self._products = {}         # views of the buffers being replaced
        return super()._apply(fn, *args, **kwargs)
