"""Roto-translation scattering: a 2D scattering network invariant to rotations.

A frontend over :func:`scatter.core.roto_cascade2d` that reuses Kymatio's Morlet bank
(:func:`scatter.filters.morlet_2d`) for the spatial wavelets and the periodic angular wavelets of
:mod:`scatter._angular`; :class:`scatter._base.ScatteringBase` holds the shared policies.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._angular import angular_morlet, circulant, max_angular_scales
from ._base import ScatteringBase, ScatteringError, ScatteringShapeError, as_tensor, check_backend, to_output
from ._roto_design import circle, crop_symmetric, lowpass_matrices
from ._validation import check_choice, check_int, check_shape
from .core import RotoFilters2D, RotoScale2D, roto_cascade2d
from .filters import FilterBank
from .scattering2d import _default_bank

# Complex values of the largest intermediate per pass through the cascade (the automatic chunking
# of a batch on every device): about 64 MB in complex128.
_WORKING_SET = 2 ** 22


@dataclass(frozen=True)
class RotoPlan2D:
    """What a roto-translation network computes, in float64.

    Attributes
    ----------
    J, L, K, max_order : int
    joint, global_average : bool
    shape, output_shape : tuple
    bank : FilterBank
        Kymatio's Morlet bank on the (periodic, unpadded) grid.
    res : tuple of int
        log2 of the subsampling of the moduli of each scale (all 0 with a global average).
    rows : tuple
        ``(order, j1, j2, theta2, k, theta1)`` of every channel before the angle average
        (``None`` where a path has no such index).
    blocks : tuple of int
        Lengths of the runs of rows that differ only by ``theta1`` (averaged into one channel).
    lowpass : tuple of (ndarray, ndarray)
        ``lowpass[r]``: the low-pass of a map at resolution ``2**r`` subsampled to ``2**J``, as
        two matrices (:func:`scatter._roto_design.lowpass_matrices`); empty with a global
        average.
    """

    J: int
    L: int
    K: int
    max_order: int
    joint: bool
    global_average: bool
    shape: tuple
    output_shape: tuple
    bank: FilterBank
    res: tuple
    rows: tuple
    blocks: tuple
    lowpass: tuple


def _rows(J: int, L: int, K: int, max_order: int, joint: bool) -> list:
    rows = [(0, None, None, None, None, None)]
    rows += [(1, j1, None, None, None, t) for j1 in range(J) for t in range(L)]
    if max_order == 1:
        return rows
    rows += [(2, j1, None, None, k, t) for j1 in range(J) for k in range(K) for t in range(L)]
    for j1 in range(J):
        for j2 in range(j1 + 1, J):
            if joint:
                rows += [(2, j1, j2, None, None, p) for p in range(L)]
                for t2 in range(L):
                    rows += [(2, j1, j2, t2, None, t) for t in range(L)]
                    rows += [(2, j1, j2, t2, k, t) for k in range(K) for t in range(2 * L)]
            else:
                rows += [(2, j1, j2, t2, k, t) for t2 in range(L) for k in [None, *range(K)]
                         for t in range(L)]
    return rows


class RotoTranslationScattering2D(ScatteringBase):
    r"""Roto-translation scattering: 2D scattering invariant to translations and rotations.

    The first layer is the wavelet modulus ``U1[j1](u, t) = |x * psi_{j1, t}|(u)`` of Kymatio's
    Morlet bank (``t``: ``L`` angles in ``[0, pi)``). The second layer filters these maps jointly
    in position and angle with wavelets on the roto-translation group: a spatial Morlet wavelet
    ``psi_{j2, t + t2}`` turned with the first layer's angle (``t2`` is a *relative* angle) and a
    periodic Morlet wavelet ``pbar_k`` along ``t`` (:mod:`scatter._angular`), so that what varies
    together in space and angle is kept. The spatial average ``A`` (``phi_J`` or the whole grid)
    and the mean over the angle ``t`` make the coefficients invariant to rotations (Sifre & Mallat,
    "Rotation, scaling and deformation invariant scattering for texture discrimination", CVPR 2013;
    L. Sifre, "Rigid-motion scattering for image classification", PhD thesis, Ecole polytechnique,
    2014). The equations are in :mod:`scatter.core.roto2d`.

    Two second layers:

    - ``variant='joint'`` (Sifre & Mallat): ``|(U1 ~*~ pbar_k)(., t) * psi_{j2, t + t2}|``, one
      modulus after the spatial and the angular convolution, over the full circle ``t in
      [0, 2 pi)``; beside it the paths without angular filter ``|U1(., t) * psi_{j2, t + t2}|``
      (the angular identity) and the angular mean path ``|mean_t U1 * psi_{j2, p}|``. It **keeps
      more**: the phase of the spatial convolution is combined across angles before the modulus,
      so co-occurrences of orientations at one place survive. It costs about ``2 K + 1`` times the
      second layer of :class:`scatter.Scattering2D` (``(2 K + 1) L^2`` maps per pair of scales
      instead of ``L^2``).
    - ``variant='separable'`` (after Oyallon & Mallat, "Deep roto-translation scattering for
      object classification", CVPR 2015, as we read it): ``|U1(., t) * psi_{j2, t + t2}|`` then
      averaged, then an angular wavelet modulus along ``t``. It **costs less** (the spatial part
      is exactly Scattering2D's second layer with relative angles; the angular part acts on the
      averaged maps) but keeps less: the spatial modulus comes before the angular filtering.

    Both add ``Sa = |(A U1) ~*~ pbar_k|``, the roto-translation wavelets whose spatial part is the
    low-pass. Channels, in order: ``S0``; ``S1`` by ``j1``; ``Sa`` by ``(j1, k)``; ``S2`` by
    ``(j1, j2)`` then, joint, the mean path and ``(t2, k)``; separable, ``(t2, k)`` with
    ``k = None`` (no angular wavelet) first. :meth:`meta` names them.

    Scale invariance (Sifre & Mallat's averaging along log-scale) is not offered: with the ``J``
    of 2-4 scales that images of 28-256 pixels allow, an average over ``j`` would mix the few
    scales there are rather than absorb a scaling; keep ``j1, j2`` and let a classifier use them.

    Parameters
    ----------
    J : int >= 1
        Number of scales. ``M`` and ``N`` must be multiples of ``2**J``.
    shape : tuple (M, N)
        Size of the images. The grid is periodic (no padding: padding is not symmetric under
        rotations); zero-pad images whose content should not wrap around.
    L : int >= 2
        Number of angles in ``[0, pi)``. Exact invariance to ``rot90`` needs an even ``L`` (a
        quarter turn is then ``L / 2`` steps of ``pi / L``; multiples of 4 are not needed).
    max_order : {1, 2}
    K : int, optional
        Number of angular wavelets, ``0 <= K <= floor(log2 L) - 1`` (default ``min(1, that)``).
    variant : {'joint', 'separable'}
    average : {'local', 'global'}
        ``'local'``: the low-pass ``phi_J`` subsampled by ``2**J``, coefficients
        ``(..., C, M / 2**J, N / 2**J)``; ``'global'``: the mean over the whole image (textures),
        coefficients ``(..., C)``, every modulus kept at full resolution (subsampled grids of an
        even-sized image are not symmetric under a rotation about its centre).
    average_angles : bool
        Average over the angle ``t`` (rotation invariance). ``False`` keeps the angle axis: the
        channels are the rows of :meth:`meta` with their ``'theta1'``, covariant with rotations.
    backend : None or 'torch'
    out_type : {'array', 'list'}
        ``'list'``: one dict per channel with ``'coef'`` and the fields of :meth:`meta`.
    check_input : bool
        Raise on NaN/inf (one device-to-host sync).
    batch_size : int, optional
        Images per pass. By default, CPU inference runs chunks sized for the caches (a few MB per
        intermediate), ``n = torch.get_num_threads()`` at a time on worker threads of one
        intra-op thread each; autograd and other devices take as many images as keep the largest
        intermediate near 2**22 complex values.

    Computation: CPU inference (no autograd through the input) runs
    :class:`scatter.engine.roto2d.CpuRotoEngine2D` (fused filtering and subsampling, in-place
    FFTs, work buffers kept per thread between calls: :meth:`release_workspace` frees them);
    autograd, CUDA and ``torch.compile`` run the plain cascade :func:`scatter.core.roto_cascade2d`.
    Both give the same coefficients (tested).

    What holds exactly (``L`` even, square images)
    ---------------------------------------------
    With ``average='global'``: ``S(torch.rot90(x)) == S(x)`` (to float rounding), and without the
    angle average the angle axes are shifted cyclically by ``L / 2`` (``t -> t - L/2``, modulo
    ``L``, or ``2 L`` for the joint paths' full circle). With ``average='local'``: the maps of a
    rotation *about the grid's origin* ``R x = torch.roll(torch.rot90(x), 1, -2)`` are the maps
    of ``x`` rotated the same way on the coarse grid, ``torch.roll(torch.rot90(S(x)), 1, -2)``;
    ``torch.rot90`` itself turns about the image centre, half a pixel off every coarse sampling
    grid, so it is matched only up to that translation.

    Examples
    --------
    >>> import torch
    >>> from scatter import RotoTranslationScattering2D
    >>> S = RotoTranslationScattering2D(J=2, shape=(32, 32), L=8, average='global').double()
    >>> x = torch.randn(3, 32, 32, dtype=torch.float64)
    >>> S(x).shape
    torch.Size([3, 22])
    >>> bool((S(torch.rot90(x, 1, (-2, -1))) - S(x)).abs().max() < 1e-10)
    True
    """

    _PARAMS = ("J", "shape", "L", "max_order", "K", "variant", "average", "average_angles", "backend",
               "out_type", "check_input", "batch_size")
    _ndim = 2

    def __init__(self, J: int, shape, L: int = 8, max_order: int = 2, K: int | None = None,
                 variant: str = "joint", average: str = "local", average_angles: bool = True,
                 backend=None, out_type: str = "array", *, check_input: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__()
        self.J, self.shape, self.L, self.max_order, self.K = J, shape, L, max_order, K
        self.variant, self.average, self.average_angles = variant, average, average_angles
        self.backend, self.out_type = backend, out_type
        self.check_input, self.batch_size = check_input, batch_size
        self._configure()

    # ------------------------------------------------------------------------ construction
    def _check_params(self) -> dict:
        check_backend(self.backend)
        J = check_int("J", self.J, minimum=1)
        shape = check_shape("shape", self.shape, 2)
        step = 2 ** J
        if shape[0] % step or shape[1] % step:
            raise ScatteringShapeError(
                f"shape {shape} must have both sides multiples of 2**J = {step} (the grid is periodic "
                f"and subsampled by 2**J): crop or zero-pad the images, or lower J")
        L = check_int("L", self.L, minimum=2)
        K_max = max_angular_scales(L)
        K = min(1, K_max) if self.K is None else check_int("K", self.K, minimum=0, maximum=K_max)
        if self.out_type not in ("array", "list"):
            raise ScatteringError(f"out_type must be one of ['array', 'list'], got {self.out_type!r}")
        if not isinstance(self.average_angles, (bool, np.bool_)):
            raise TypeError(f"average_angles must be True or False, got {self.average_angles!r}")
        return {"J": J, "shape": shape, "L": L, "K": self.K, "_K": K,
                "max_order": check_choice("max_order", self.max_order, (1, 2)),
                "variant": check_choice("variant", self.variant, ("joint", "separable")),
                "average": check_choice("average", self.average, ("local", "global")),
                "average_angles": bool(self.average_angles), "backend": self.backend,
                "out_type": self.out_type, "check_input": bool(self.check_input),
                "batch_size": None if self.batch_size is None
                else check_int("batch_size", self.batch_size, minimum=1)}

    @staticmethod
    def _build_key(params: dict) -> tuple:
        return (params["J"], params["shape"], params["L"], params["_K"], params["max_order"],
                params["variant"], params["average"])

    def _build(self, params: dict) -> dict:
        J, shape, L, K = params["J"], params["shape"], params["L"], params["_K"]
        joint, global_average = params["variant"] == "joint", params["average"] == "global"
        rows = _rows(J, L, K, params["max_order"], joint)
        blocks, start = [], 0
        for i in range(1, len(rows) + 1):
            if i == len(rows) or rows[i][:5] != rows[start][:5]:
                blocks.append(i - start)
                start = i
        bank = _default_bank(shape, J, L)
        lowpass = () if global_average else tuple(lowpass_matrices(bank.phi, J, r) for r in range(J))
        if None in lowpass:
            raise ScatteringError("the Morlet bank's low-pass is expected to be separable")
        plan = RotoPlan2D(J=J, L=L, K=K, max_order=params["max_order"], joint=joint,
                          global_average=global_average, shape=shape,
                          output_shape=() if global_average else (shape[0] // 2 ** J, shape[1] // 2 ** J),
                          bank=bank,
                          res=tuple(0 if global_average else j for j in range(J)),
                          rows=tuple(rows), blocks=tuple(blocks), lowpass=lowpass)
        return {"_plan": plan}

    @staticmethod
    def _prepare(plan: RotoPlan2D, dtype: torch.dtype, device: torch.device) -> RotoFilters2D:
        bank, L, res = plan.bank, plan.L, plan.res
        group = [np.flatnonzero(bank.meta["j"] == j) for j in range(plan.J)]
        scales = []
        for j1 in range(plan.J):
            later = []
            if plan.max_order == 2:
                for j2 in range(j1 + 1, plan.J):
                    angles = circle(bank.psi[group[j2]], 2 ** res[j1])               # (2L, m, n)
                    turns = (np.arange(L)[:, None] + np.arange(2 * L)[None, :]) % (2 * L)
                    later.append((res[j2], as_tensor(angles[turns], dtype, device)))
            scales.append(RotoScale2D(res=res[j1], psi=as_tensor(bank.psi[group[j1]], dtype, device),
                                      later=tuple(later)))
        phi = tuple(tuple(as_tensor(m, dtype, device) for m in pair) for pair in plan.lowpass)
        angular = as_tensor(circulant(angular_morlet(L, plan.K)).reshape(plan.K, L, L), dtype, device)
        return RotoFilters2D(J=plan.J, L=L, max_order=plan.max_order, joint=plan.joint,
                             global_average=plan.global_average, scales=tuple(scales), phi=phi,
                             angular=angular)

    # -------------------------------------------------------------------------------- info
    @property
    def output_shape(self) -> tuple:
        """Spatial size ``(h, w)`` of the coefficients (``()`` with a global average)."""
        return self._plan.output_shape

    @property
    def bank(self) -> FilterBank:
        """The spatial Morlet bank (Kymatio's, on the periodic grid ``shape``)."""
        return self._plan.bank

    def angular_filters(self) -> np.ndarray:
        """The angular wavelets in angle, complex128 ``(K, L)`` (``pbar_k(t)``, ``t = 0..L-1``)."""
        return np.fft.ifft(angular_morlet(self._plan.L, self._plan.K), axis=-1)

    def _rows_out(self) -> tuple:
        plan = self._plan
        if not self.average_angles:
            return plan.rows
        out, start = [], 0
        for size in plan.blocks:
            out.append(plan.rows[start][:5] + (None,))
            start += size
        return tuple(out)

    def output_size(self) -> int:
        """Number of channels ``C``."""
        return len(self._rows_out())

    def meta(self) -> dict:
        """Describe every output channel, in output order.

        Returns
        -------
        dict of ndarray, each of length C
            ``'order'`` (int: 0, 1 or 2); ``'j'`` (C, 2): ``(j1, j2)``, NaN where absent (``Sa``
            has ``j1`` and no ``j2``); ``'theta2'``: the relative angle index of the second
            spatial wavelet; ``'k'``: the angular wavelet (NaN: none, i.e. the angular mean);
            ``'theta1'``: the angle index (NaN once averaged; ``0..2L-1`` on the joint paths'
            full circle); ``'key'``: the rows as tuples.
        """
        rows = self._rows_out()

        def column(i):
            return np.array([np.nan if r[i] is None else r[i] for r in rows], dtype=float)

        return {"order": np.array([r[0] for r in rows]), "j": np.stack([column(1), column(2)], axis=1),
                "theta2": column(3), "k": column(4), "theta1": column(5),
                "key": [r[1:] for r in rows]}

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.shape}, L={self.L}, K={self._plan.K}, max_order={self.max_order}, "
                f"variant={self.variant!r}, average={self.average!r}, average_angles={self.average_angles}, "
                f"out_type={self.out_type!r}")

    # ------------------------------------------------------------------------------ compute
    def _grid_of_input(self) -> tuple[int, int]:
        return self.shape

    def _chunk(self) -> int:
        plan = self._plan
        M, N = plan.shape
        per_image = M * N * plan.L * max(2 * plan.K, 1) * (2 if plan.joint else 1)
        return max(1, _WORKING_SET // per_image)

    def _cascade(self, x: torch.Tensor, filters: RotoFilters2D) -> torch.Tensor:
        chunk = self.batch_size or self._chunk()
        if x.shape[0] > chunk:
            return torch.cat([roto_cascade2d(part, filters) for part in x.split(chunk)])
        return roto_cascade2d(x, filters)

    def _make_engine(self, dtype: torch.dtype):
        from .engine.roto2d import CpuRotoEngine2D

        return CpuRotoEngine2D(self._plan, dtype)

    def release_workspace(self) -> None:
        """Free the work buffers that CPU inference keeps between calls: per worker thread, the
        second layer's products of a chunk (up to about ``3 * 2**20`` complex values, 25 MB in
        float32, with the automatic chunking), their moduli and a few spectra."""
        for engine in self._engines.values():
            engine.release_workspace()

    def _format(self, coefs: torch.Tensor, lead: tuple, from_numpy: bool):
        if self.average_angles:
            coefs = torch.stack([part.mean(1) for part in coefs.split(list(self._plan.blocks), dim=1)], dim=1)
        if self.out_type == "list":
            meta = self.meta()
            fields = ("order", "theta2", "k", "theta1")
            return [{"coef": to_output(coefs[:, c].reshape(*lead, *coefs.shape[2:]), from_numpy),
                     "j": tuple(meta["j"][c]), **{f: meta[f][c] for f in fields}}
                    for c in range(coefs.shape[1])]
        return to_output(coefs.reshape(*lead, *coefs.shape[1:]), from_numpy)


__all__ = ["RotoTranslationScattering2D", "crop_symmetric"]
