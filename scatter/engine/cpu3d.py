"""The CPU inference engine of :class:`scatter.HarmonicScattering3D`.

It computes :func:`scatter.core.cascade3d` for CPU inference (no autograd), faster:

- fewer inverse FFTs, from the symmetries of the solid harmonics for real inputs (the density,
  and the moduli at order 2) on grids of even sizes (:mod:`scatter.engine.mirror3d`): with
  rotation covariance the orders ``m < 0`` come from ``m > 0``
  (``u * psi_{-m} = (-1)**m conj(u * psi_m)``), exactly, with a correction on the Nyquist
  planes made of 2D inverse FFTs; and the order ``m = 0`` of the even degrees gives real maps,
  two scales per inverse FFT (real and imaginary parts). For ``L = 3`` and ``J = 2``: 56 full
  inverse FFTs per density instead of 96 (plus Nyquist corrections at the two finest scales);
- the work is cut into tasks that run side by side on worker threads of one intra-op thread
  each (:mod:`scatter._parallel`): one per chunk of the batch where the chunks share the workers
  evenly, otherwise one per chunk and bin of degrees, the degrees dealt by decreasing cost to the
  least loaded bin so that the workers end together (which also spreads a single large density
  over the cores); each task takes its chunk's spectrum once for all its degrees;
- FFTs run in place (MKL's through torch's library where available, :mod:`scatter._mkl_fft`),
  unscaled: the inverse transform's ``1 / n`` goes into the sums of squares; the products,
  spectra and maps are written into work buffers kept per thread between calls (fresh large
  tensors page-fault on every call); the filters are the plain cascade's own tensors (no
  second copy: at 128^3 one copy of the bank is 800 MB in float32), plus, per even degree, the
  sums ``psi_{j,l,0} + i psi_{j',l,0}`` of the paired scales (64 MB at 128^3 in float32 for
  ``J = 2``, ``L = 3``);
- the sum over ``m`` of ``|x * psi_m|**2`` accumulates in one map (``addcmul``, real and
  imaginary squares interleaved as the complex maps are, so that every pass is contiguous)
  instead of Kymatio's repeated square roots and squares;
- chunks hold at most ``2**21`` complex values per product (16 MiB in float32) per worker: the
  batch is cut, and a single density too large for it has its orders ``m`` taken a few at a time.

The coefficients equal the plain cascade's to float rounding (tests/test_scattering3d.py,
tests/test_scattering3d_mirror.py).
"""
from __future__ import annotations

import threading

import torch

from .. import _mkl_fft
from .._parallel import chunk_workers, map_chunks
from ..core.cascade3d import Filters3D
from .fourier import ThreadWorkspaces, Workspace
from .mirror3d import Mirror

_DIMS = (-3, -2, -1)
_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


class CpuEngine3D:
    """:func:`scatter.core.cascade3d` for CPU inference, in one dtype.

    Parameters
    ----------
    filters : Filters3D
        The network's filters in that dtype, on the CPU.
    mirror : tuple, optional
        :func:`scatter.engine.mirror3d.mirror_corrections` of the bank in that dtype: the
        degrees with every order ``m`` (rotation covariance) then transform ``m >= 0`` only.
    hermitian : tuple of bool, optional
        :func:`scatter.engine.mirror3d.hermitian_degrees` of the bank: the order 0 of those
        degrees (mirrored, or the degree 0) is then computed as real maps, two scales at a time.
    """

    _TARGET = 1 << 21    # complex values of one product buffer, per worker
    _PAIR_RATIO = 4.0    # largest ratio of the peaks of two order-0 filters that share an iFFT

    def __init__(self, filters: Filters3D, mirror: tuple | None = None,
                 hermitian: tuple | None = None) -> None:
        self.powers = filters.powers
        self.max_order = filters.max_order
        shape = filters.psi[0].shape[-3:]
        self.voxels = shape[0] * shape[1] * shape[2]
        self.in_place = _mkl_fft.available()
        self.psi = filters.psi          # shared with the plain cascade (read only here)
        # per degree: the Nyquist corrections of the orders m < 0 (mirror3d), or None where
        # every order has its own inverse FFT (odd axes, one order, or no mirror given)
        self.mirror = tuple(
            mirror[l] if mirror is not None and l > 0 and p.shape[1] == 2 * l + 1 else None
            for l, p in enumerate(self.psi))
        # the filters transformed: orders m >= 0 only where mirrored (a view, no copy)
        self.used = tuple(p if c is None else p[:, l:] for l, (p, c) in enumerate(zip(self.psi, self.mirror)))
        # degrees whose order 0 (first of `used`) gives real maps (mirror3d.hermitian_degrees):
        # two scales share one inverse FFT, as the real and imaginary parts of its output
        self.real0 = tuple(hermitian is not None and hermitian[l] and (c is not None or l == 0)
                           for l, c in enumerate(self.mirror))
        # peaks of those order-0 filters: two scales share a transform only where their peaks are
        # within _PAIR_RATIO, as the rounding of the larger map's transform then stays at the
        # smaller map's own (not so for a wavelet too wide for the grid, nearly zero once sampled)
        self._peaks = tuple(p[:, 0].abs().amax((-3, -2, -1)).tolist() if real else None
                            for p, real in zip(self.used, self.real0))
        self._pairs: dict = {}          # (l, j, j') -> psi_{j,l,0} + i psi_{j',l,0}
        self._pairs_lock = threading.Lock()
        self._buffers = ThreadWorkspaces(("product", "x", "u", "u1", "u2", "real"))

    def release_workspace(self) -> None:
        """Forget the work buffers (each thread's is freed when it next runs or ends)."""
        self._buffers.release()

    def _workspace(self) -> dict:
        """This thread's buffers by role: ``'product'`` (the products, then the moduli's sums of
        squares and the integrals' powers), ``'x'`` and ``'u'`` (the spectra of the input and of
        an order-1 map), ``'u1'`` and ``'u2'`` (the moduli of orders 1 and 2), ``'real'`` (the
        real maps of order 0, two scales per complex map)."""
        return self._buffers.get()

    def run(self, x: torch.Tensor, check_input: bool, batch_size: int | None = None) -> torch.Tensor:
        """Coefficients ``(B, K, L + 1, P)`` of a batch ``(B, M, N, O)``."""
        workers = chunk_workers(x)
        widest = max(p.shape[1] for p in self.used)
        chunk = max(1, min(x.shape[0], self._TARGET // (widest * self.voxels)))
        if batch_size is not None:
            chunk = min(chunk, batch_size)
        parts = list(x.split(chunk))
        cost = [self._cost(l) for l in range(len(self.psi))]
        # The degrees of a chunk share the input's spectrum: each task takes a bin of degrees
        # (one spectrum per task). One bin per chunk where the chunks alone keep the workers
        # evenly busy; otherwise as many bins as workers, the degrees dealt to the least loaded
        # bin by decreasing cost, so that the workers finish together.
        n_bins = 1 if workers <= 1 or len(parts) % workers == 0 else min(workers, len(self.psi))
        bins, loads = [[] for _ in range(n_bins)], [0] * n_bins
        for l in sorted(range(len(self.psi)), key=lambda l: -cost[l]):
            k = loads.index(min(loads))
            bins[k].append(l)
            loads[k] += cost[l]
        order = sorted(range(n_bins), key=lambda k: -loads[k])
        tasks = [(i, tuple(bins[k])) for i in range(len(parts)) for k in order if bins[k]]
        checked = [not check_input] * len(parts)

        def one(task):
            i, ls = task
            part = parts[i]
            if not checked[i] and ls == tasks[0][1]:
                from .._base import check_finite

                check_finite(part)     # once per chunk, on the worker that runs it
            ws = self._workspace()
            spectrum = self._spectrum(part, ws["x"])
            return [self._degree(spectrum, l, ws) for l in ls]

        done = map_chunks(one, tasks, workers) if workers > 1 and len(tasks) > 1 else None
        if done is None:
            done = [one(t) for t in tasks]
        n_paths = done[0][0].shape[1]
        out = x.new_empty((x.shape[0], n_paths, len(self.psi), len(self.powers)))
        starts = [0]
        for p in parts:
            starts.append(starts[-1] + p.shape[0])
        for (i, ls), coefs in zip(tasks, done):
            for l, c in zip(ls, coefs):
                out[starts[i]:starts[i + 1], :, l] = c
        return out

    def _cost(self, l: int) -> float:
        """Full-grid FFTs of degree ``l`` per density (a Nyquist correction counts 0.4)."""
        n = self.psi[0].shape[0]
        sets = [list(range(n))] + ([list(range(j1 + 1, n)) for j1 in range(n - 1)]
                                   if self.max_order == 2 else [])
        complex_orders = self.used[l].shape[1] - self.real0[l]
        fft = sum(complex_orders * len(js) + (len(js) + 1) // 2 * self.real0[l] for js in sets)
        fft += len(sets) - 1                    # the forward FFTs of the order-1 maps
        mirror = self.mirror[l]
        if mirror is not None:
            fft += 0.4 * sum(len(mirror[j].rows) for js in sets for j in js)
        return fft

    def _spectrum(self, u: torch.Tensor, ws: Workspace) -> torch.Tensor:
        """The (full, complex) FFT of real maps ``(b, M, N, O)``, in ``ws``'s buffer."""
        if self.in_place:
            z = ws.take(u.shape, _COMPLEX[u.dtype], u.device)
            if _mkl_fft.fft_in_place(z.copy_(u), 3):
                return z
        return torch.fft.fftn(u, dim=_DIMS)

    def _modulus(self, spectrum: torch.Tensor, psi_j: torch.Tensor, ws: Workspace,
                 mirror_j: Mirror | None = None, out: torch.Tensor | None = None,
                 real: tuple | None = None) -> tuple:
        """``sqrt(sum_m |ifft(spectrum * psi_j[m])|**2)``, the orders ``m`` in groups that fit,
        and the sums of its squares over the grid (where the power 2 is asked for).

        With ``mirror_j`` (:func:`scatter.engine.mirror3d.mirror_corrections` of this degree and
        scale), ``psi_j`` holds the orders ``m = 0..l`` only, and each ``m > 0`` also stands for
        ``-m``: ``|u * psi_{-m}| = |u * psi_m + (-1)**m conj(d_m)|`` with ``d_m`` the inverse FFT
        of the spectrum times ``D_m`` (zero where ``D_m`` is negligible: weight 2).
        With ``real = (map, unit)``, the order 0 is the real ``map`` (``unit`` its squares'
        scale) and ``psi_j`` holds the orders ``m = 1..l``.
        """
        b, n_m = spectrum.shape[0], psi_j.shape[0]
        shift = 0 if real is None else 1              # the order m of psi_j[0]
        if n_m == 0:                                  # the order 0 alone: |map|
            r, unit = real
            out = torch.abs(r, out=out).mul_(unit ** 0.5)
            squares = None
            if 2 in self.powers:
                tmp = ws.take(spectrum.shape, out.dtype, out.device)
                squares = torch.mul(out, out, out=tmp).view(b, -1).sum(1)
            return out, squares
        group = max(1, min(n_m, self._TARGET // (b * self.voxels)))
        # re**2 and im**2 summed apart, interleaved as the complex maps are: every update is one
        # contiguous pass (a real view's stride 2 costs several times that); the pairs are added
        # once at the end
        energy = ws.take((b, 2 * self.voxels), spectrum.real.dtype, spectrum.device).zero_()
        unscaled, parts = False, None
        for start in range(0, n_m, group):
            filt = psi_j[start:start + group]
            buf = ws.take((b, filt.shape[0], *spectrum.shape[1:]), spectrum.dtype, spectrum.device)
            torch.mul(spectrum[:, None], filt, out=buf)
            unscaled = self._ifft(buf)
            # the inverse FFT's 1 / n, squared, goes into the sums (no pass of its own)
            unit = 1.0 / self.voxels ** 2 if unscaled else 1.0
            pairs = torch.view_as_real(buf).view(b, filt.shape[0], 2 * self.voxels)
            for i in range(filt.shape[0]):
                p, m = pairs[:, i], start + i + shift
                if mirror_j is None or m == 0:
                    energy.addcmul_(p, p, value=unit)
                    continue
                row = mirror_j.rows.get(m)
                if row is None:
                    energy.addcmul_(p, p, value=2 * unit)
                    continue
                if parts is None:             # every order's correction in one go
                    parts = _mirror_parts(spectrum, mirror_j.planes, 1 if unscaled else 1 / self.voxels)
                energy.addcmul_(p, p, value=unit)
                # buf[:, i] is dead once its |.|**2 is in: it becomes u * psi_m + (-1)**m conj(d_m)
                _add_mirror_terms(buf[:, i], [None if q is None else q[:, row] for q in parts])
                energy.addcmul_(p, p, value=unit)
        halves = energy.view(b, *spectrum.shape[1:], 2)
        out = torch.add(halves[..., 0], halves[..., 1], out=out)
        if real is not None:
            out.addcmul_(real[0], real[0], value=real[1])
        # sum of the squared modulus, for the power 2 of the integrals
        squares = out.view(b, -1).sum(1) if 2 in self.powers else None
        return out.sqrt_(), squares

    def _ifft(self, buf: torch.Tensor) -> bool:
        """Inverse 3D FFTs of ``buf`` in place; whether they are unscaled (``n`` times
        ``ifftn``'s: MKL's in place) rather than scaled."""
        if self.in_place and _mkl_fft.ifft_in_place(buf, 3):
            return True
        buf.copy_(torch.fft.ifftn(buf, dim=_DIMS))
        return False

    def _real_maps(self, spectrum: torch.Tensor, l: int, scales: list, ws: Workspace) -> dict:
        """``{j: (ifft(spectrum * psi_{j,l,0}), unit)}``, real, for the ``scales`` (of a degree
        with ``real0``): two scales per inverse FFT, as its real and imaginary parts
        (``(a + i b) * u`` for real ``a * u``, ``b * u``), where their filters' peaks are within
        ``_PAIR_RATIO``. Each map is a strided view into ``ws``."""
        b, peaks = spectrum.shape[0], self._peaks[l]
        twos, rest = [], list(scales)
        while rest:
            j = rest.pop(0)
            if rest and max(peaks[j], peaks[rest[0]]) <= self._PAIR_RATIO * min(peaks[j], peaks[rest[0]]):
                twos.append([j, rest.pop(0)])
            else:
                twos.append([j])
        buf = ws.take((len(twos), b, *spectrum.shape[1:]), spectrum.dtype, spectrum.device)
        for k, two in enumerate(twos):
            torch.mul(spectrum, self._pair_filter(l, two), out=buf[k])
        unit = 1.0 / self.voxels ** 2 if self._ifft(buf) else 1.0
        parts = torch.view_as_real(buf)
        return {j: (parts[k, ..., i], unit) for k, two in enumerate(twos) for i, j in enumerate(two)}

    def _pair_filter(self, l: int, two: list) -> torch.Tensor:
        """``psi_{j,l,0} + i psi_{j',l,0}`` for ``two = [j, j']`` (made once), or ``psi_{j,l,0}``."""
        if len(two) == 1:
            return self.used[l][two[0], 0]
        key = (l, *two)
        filt = self._pairs.get(key)
        if filt is None:
            with self._pairs_lock:
                filt = self._pairs.get(key)
                if filt is None:
                    a, c = self.used[l][two[0], 0], self.used[l][two[1], 0]
                    filt = self._pairs[key] = a + 1j * c
        return filt

    def _degree(self, spectrum: torch.Tensor, l: int, ws: dict) -> torch.Tensor:
        """The coefficients ``(b, K, P)`` of degree ``l`` for a chunk, from its spectrum."""
        psi, mirror, real0 = self.used[l], self.mirror[l], self.real0[l]
        prod = ws["product"]
        n_scales = psi.shape[0]
        if real0:
            psi = psi[:, 1:]                      # the order 0 comes from _real_maps
        order2 = self.max_order == 2
        first, second = [], []
        reals = self._real_maps(spectrum, l, list(range(n_scales)), ws["real"]) if real0 else {}
        # every order-1 map first (the scales' real maps of order 0 share inverse FFTs), kept
        # for order 2
        u1s = ws["u1"].take((n_scales, *spectrum.shape), spectrum.real.dtype, spectrum.device)
        for j1 in range(n_scales):
            _, sq = self._modulus(spectrum, psi[j1], prod, None if mirror is None else mirror[j1],
                                  u1s[j1], reals.get(j1))
            first.append(self._integrals(u1s[j1], sq, prod))
        if order2:
            u2 = ws["u2"].take(spectrum.shape, spectrum.real.dtype, spectrum.device)
            for j1 in range(n_scales - 1):
                u1_hat = self._spectrum(u1s[j1], ws["u"])
                later = list(range(j1 + 1, n_scales))
                reals = self._real_maps(u1_hat, l, later, ws["real"]) if real0 else {}
                for j2 in later:
                    _, sq = self._modulus(u1_hat, psi[j2], prod, None if mirror is None else mirror[j2],
                                          u2, reals.get(j2))
                    second.append(self._integrals(u2, sq, prod))
        return torch.stack(first + second, 1)

    def _integrals(self, u: torch.Tensor, squares: torch.Tensor | None, ws: Workspace) -> torch.Tensor:
        """:func:`scatter.core.cascade3d._integrals` (the same operations but for the power 2,
        ``squares``: the sums of ``u**2`` before its square root), the powers written into
        ``ws``'s buffer."""
        flat = u.reshape(u.shape[0], -1)
        tmp = ws.take(flat.shape, flat.dtype, flat.device)
        out = []
        for q in self.powers:
            v = (flat if q == 1 else torch.sqrt(flat, out=tmp) if q == 0.5
                 else None if q == 2 else torch.pow(flat, q, out=tmp))
            out.append(squares if v is None else v.sum(1))
        return torch.stack(out, 1)


def _mirror_parts(spectrum: torch.Tensor, planes: tuple, scale: float) -> list:
    """``conj(ifft(spectrum * P))`` on each of the three planes ``P`` (see
    :class:`scatter.engine.mirror3d.Mirror`), all orders at once, without the ``(-1)**x_a``.

    The inverse FFT of a spectrum held by the plane ``k_a = n_a / 2`` is ``(-1)**x_a`` times a 2D
    inverse FFT over the two other axes; unscaled here (``n`` times ``ifftn``'s) times ``scale``.
    ``spectrum``: complex ``(b, M, N, O)``; returns ``(b, rows, ., .)`` per plane, or ``None``.
    """
    parts = []
    for axis, plane in enumerate(planes):
        if plane is None:
            parts.append(None)
            continue
        held = spectrum.select(axis + 1, spectrum.shape[axis + 1] // 2)[:, None] * plane
        part = torch.fft.ifftn(held, dim=(-2, -1), norm="forward").conj_physical_()
        parts.append(part if scale == 1 else part.mul_(scale))
    return parts


def _add_mirror_terms(c: torch.Tensor, parts: list) -> None:
    """``c += sum_a (-1)**x_a parts[a]`` in place (the parts broadcast over the axis ``a``).

    ``c``: complex ``(b, M, N, O)`` (any batch stride); ``parts``: ``(b, N, O)``, ``(b, M, O)``,
    ``(b, M, N)`` or ``None``. (Measured: two strided halves per axis beat a broadcast of both
    signs; along the innermost axis a rank-1 matrix product beats both.)
    """
    b, M, N, O = c.shape
    if parts[0] is not None:                 # (-1)**x_0 g(x_1, x_2): whole planes of x_0
        halves = c.unflatten(1, (M // 2, 2))
        halves[:, :, 0].add_(parts[0][:, None])
        halves[:, :, 1].sub_(parts[0][:, None])
    if parts[1] is not None:                 # (-1)**x_1 g(x_0, x_2): rows of x_2
        halves = c.unflatten(2, (N // 2, 2))
        halves[:, :, :, 0].add_(parts[1][:, :, None])
        halves[:, :, :, 1].sub_(parts[1][:, :, None])
    if parts[2] is not None:                 # g(x_0, x_1) (-1)**x_2: a rank-1 matrix product
        signs = torch.ones(O, dtype=c.dtype, device=c.device)
        signs[1::2] = -1
        c.view(b, M * N, O).baddbmm_(parts[2].reshape(b, M * N, 1), signs.expand(b, 1, O))
