"""The CPU inference engine of :class:`scatter.HarmonicScattering3D`.

It computes :func:`scatter.core.cascade3d` for CPU inference (no autograd), faster:

- the work is cut into tasks, one per chunk of the batch and degree ``l``, that run side by side
  on worker threads of one intra-op thread each (:mod:`scatter._parallel`); the degrees cost
  ``2l + 1`` inverse FFTs per scale, so the largest go first and the workers end together (for
  ``L = 3``: ``7 + 1`` and ``5 + 3``), which also spreads a single large density over the cores;
- FFTs run in place (MKL's through torch's library where available, :mod:`scatter._mkl_fft`),
  unscaled: the inverse transform's ``1 / n`` is applied once to each modulus map; the products
  are written into a work buffer kept per thread between calls; the filters are the plain
  cascade's own tensors (no second copy: at 128^3 one copy of the bank is 800 MB in float32);
- the sum over ``m`` of ``|x * psi_m|**2`` accumulates in one real map (``addcmul``) instead of
  Kymatio's repeated square roots and squares;
- chunks hold at most ``2**21`` complex values per product (16 MiB in float32) per worker: the
  batch is cut, and a single density too large for it has its orders ``m`` taken a few at a time.

The coefficients equal the plain cascade's to float rounding (tests/test_scattering3d.py).
"""
from __future__ import annotations

import threading

import torch

from .. import _mkl_fft
from .._parallel import chunk_workers, map_chunks
from ..core.cascade3d import Filters3D, _integrals
from .fourier import Workspace

_DIMS = (-3, -2, -1)


class CpuEngine3D:
    """:func:`scatter.core.cascade3d` for CPU inference, in one dtype.

    Parameters
    ----------
    filters : Filters3D
        The network's filters in that dtype, on the CPU.
    """

    _TARGET = 1 << 21    # complex values of one product buffer, per worker

    def __init__(self, filters: Filters3D) -> None:
        self.powers = filters.powers
        self.max_order = filters.max_order
        shape = filters.psi[0].shape[-3:]
        self.voxels = shape[0] * shape[1] * shape[2]
        self.in_place = _mkl_fft.available()
        self.psi = filters.psi          # shared with the plain cascade (read only here)
        self._local = threading.local()

    def release_workspace(self) -> None:
        """Forget the work buffers (each thread's is freed when it next runs or ends)."""
        self._local = threading.local()

    def _workspace(self) -> Workspace:
        ws = getattr(self._local, "workspace", None)
        if ws is None:
            ws = self._local.workspace = Workspace()
        return ws

    def run(self, x: torch.Tensor, check_input: bool, batch_size: int | None = None) -> torch.Tensor:
        """Coefficients ``(B, K, L + 1, P)`` of a batch ``(B, M, N, O)``."""
        workers = chunk_workers(x)
        widest = max(p.shape[1] for p in self.psi)
        chunk = max(1, min(x.shape[0], self._TARGET // (widest * self.voxels)))
        if batch_size is not None:
            chunk = min(chunk, batch_size)
        parts = list(x.split(chunk))
        # degrees by decreasing cost, so that the workers finish together
        degrees = sorted(range(len(self.psi)), key=lambda l: -self.psi[l].shape[1])
        tasks = [(i, l) for i in range(len(parts)) for l in degrees]
        checked = [not check_input] * len(parts)

        def one(task):
            i, l = task
            part = parts[i]
            if not checked[i] and l == degrees[0]:
                from .._base import check_finite

                check_finite(part)     # once per chunk, on the worker that runs it
            return self._degree(part, l)

        done = map_chunks(one, tasks, workers) if workers > 1 and len(tasks) > 1 else None
        if done is None:
            done = [one(t) for t in tasks]
        n_paths = done[0].shape[1]
        out = x.new_empty((x.shape[0], n_paths, len(self.psi), len(self.powers)))
        starts = [0]
        for p in parts:
            starts.append(starts[-1] + p.shape[0])
        for (i, l), coefs in zip(tasks, done):
            out[starts[i]:starts[i + 1], :, l] = coefs
        return out

    def _spectrum(self, u: torch.Tensor) -> torch.Tensor:
        """The (full, complex) FFT of real maps ``(b, M, N, O)``."""
        z = torch.complex(u, torch.zeros_like(u)) if self.in_place else u
        if self.in_place and _mkl_fft.fft_in_place(z, 3):
            return z
        return torch.fft.fftn(u, dim=_DIMS)

    def _modulus(self, spectrum: torch.Tensor, psi_j: torch.Tensor, ws: Workspace) -> torch.Tensor:
        """``sqrt(sum_m |ifft(spectrum * psi_j[m])|**2)``, the orders ``m`` in groups that fit."""
        b, n_m = spectrum.shape[0], psi_j.shape[0]
        group = max(1, min(n_m, self._TARGET // (b * self.voxels)))
        energy = torch.zeros(spectrum.shape, dtype=spectrum.real.dtype)
        unscaled = False
        for start in range(0, n_m, group):
            filt = psi_j[start:start + group]
            buf = ws.take((b, filt.shape[0], *spectrum.shape[1:]), spectrum.dtype, spectrum.device)
            torch.mul(spectrum[:, None], filt, out=buf)
            if self.in_place and _mkl_fft.ifft_in_place(buf, 3):
                unscaled = True               # n times torch's ifftn
            else:
                buf = torch.fft.ifftn(buf, dim=_DIMS)
            pairs = torch.view_as_real(buf)
            for m in range(filt.shape[0]):
                re, im = pairs[:, m, ..., 0], pairs[:, m, ..., 1]
                energy.addcmul_(re, re).addcmul_(im, im)
        energy.sqrt_()
        return energy.mul_(1.0 / self.voxels) if unscaled else energy

    def _degree(self, x: torch.Tensor, l: int) -> torch.Tensor:
        """The coefficients ``(b, K, P)`` of degree ``l`` for a chunk ``(b, M, N, O)``."""
        ws, psi = self._workspace(), self.psi[l]
        spectrum = self._spectrum(x)
        first, second = [], []
        n_scales = psi.shape[0]
        for j1 in range(n_scales):
            u1 = self._modulus(spectrum, psi[j1], ws)
            first.append(_integrals(u1, self.powers))
            if self.max_order == 2 and j1 + 1 < n_scales:
                u1_hat = self._spectrum(u1)
                for j2 in range(j1 + 1, n_scales):
                    second.append(_integrals(self._modulus(u1_hat, psi[j2], ws), self.powers))
        return torch.stack(first + second, 1)
