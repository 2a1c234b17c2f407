"""The 2D scattering network: Kymatio 0.3's ``Scattering2D``, fed by any 2D filter bank.

A thin frontend over :func:`scatter.core.cascade2d` (autograd, CUDA, ``torch.compile``) and
:class:`scatter.engine.cpu2d.CpuEngine2D` (CPU inference); :class:`scatter._base.ScatteringBase`
chooses between them and holds the shared policies.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ._base import ScatteringBase, ScatteringError, ScatteringShapeError, as_tensor, check_backend, check_bank, \
    reflect_indices, to_output
from ._design import crop_fourier
from ._validation import check_choice, check_int, check_shape
from .core import Filters2D, Scale2D, cascade2d
from .core.ops import reflect_pad
from .filters import FilterBank, morlet_2d


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


# Half-maximum radius of Kymatio's Gaussian low-pass at scale 2**J, times 2**J (cycles/sample):
# sqrt(2 ln 2) / (2 pi sigma), its spatial width being sigma = 0.8 * 2**(J - 1).
_MORLET_PHI_HALF_RADIUS = math.sqrt(2 * math.log(2)) / (2 * math.pi * 0.4)


def _check_lowpass_scale(bank: FilterBank, J: int) -> None:
    """Refuse a low-pass that averages at another scale than ``2**J``.

    The output is subsampled by ``2**J``: a low-pass of a finer scale lets through frequencies
    that this subsampling aliases. ``bank.phi_meta['j']`` must be ``J`` where given; otherwise the
    scale is estimated from the half-maximum radius of ``phi`` along the axes (a Gaussian of
    Kymatio's width is exact) and a ``phi`` half a scale finer than ``2**J`` or more is refused.
    """
    if "j" in bank.phi_meta:
        j = bank.phi_meta["j"]
        if int(j) != J:
            raise ValueError(f"bank's low-pass averages at scale 2**{j} (phi_meta['j'] = {j}) but this "
                             f"network subsamples its output by 2**J = 2**{J}: build the bank with "
                             f"the network's J (e.g. bank=lambda grid: morlet_2d(grid, J={J}, L=...))")
        return
    phi = np.abs(bank.phi)
    radii = []
    for profile in (phi[:, 0], phi[0, :]):
        n, target = profile.size, 0.5 * profile[0]
        below = np.flatnonzero(profile[:n // 2 + 1] < target)
        if below.size == 0 or below[0] == 0:
            radii.append(0.5 if below.size == 0 else 0.0)
            continue
        i = below[0]       # the crossing, interpolated between samples i - 1 and i
        radii.append((i - 1 + (profile[i - 1] - target) / (profile[i - 1] - profile[i])) / n)
    scale = math.log2(_MORLET_PHI_HALF_RADIUS / max(max(radii), 1e-12))
    if scale < J - 0.5:
        raise ValueError(f"bank's low-pass averages at about scale 2**{scale:.1f} (from its band) but "
                         f"this network subsamples its output by 2**J = 2**{J}, which would alias it: "
                         f"give a low-pass of scale 2**{J} (or set bank.phi_meta['j'])")


def _version_of(module: torch.nn.Module) -> tuple:
    """The values of ``module``'s parameters (a few numbers per wavelet), their dtypes and
    devices: changes whenever an optimiser step, a loaded state dict or a conversion changes
    them (version counters do not see every in-place update: optimisers' foreach kernels)."""
    params = list(module.parameters())
    with torch.no_grad():
        values = torch.cat([p.detach().reshape(-1).double() for p in params]).cpu().numpy()
    return (values.tobytes(), tuple((p.dtype, p.device) for p in params))


@functools.lru_cache(maxsize=8)
def _default_bank(grid: tuple[int, int], J: int, L: int) -> FilterBank:
    """Kymatio's Morlet bank on ``grid``, designed once per parameters (banks are immutable)."""
    return morlet_2d(grid, J, L)


@dataclass(frozen=True)
class Plan2D:
    """What a 2D network computes, in float64: its grid, scales, resolutions and filters.

    Attributes
    ----------
    J, max_order : int
    padded_shape, output_shape : (int, int)
    bank : FilterBank
    groups : tuple of (int, ndarray)
        Each scale ``j`` with the indices of its filters in the bank.
    res : dict of int to int
        log2 of the subsampling of the moduli of each scale.
    rows : tuple
        ``(order, js, thetas, ns)`` of every output channel, in output order.
    """

    J: int
    max_order: int
    padded_shape: tuple
    output_shape: tuple
    bank: FilterBank
    groups: tuple
    res: dict
    rows: tuple


class Scattering2D(ScatteringBase):
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
    backend : None or 'torch'
        Kymatio's parameter: PyTorch is the only backend (any other raises ``ImportError``).
    out_type : {'array', 'list'}
        ``'array'``: one tensor ``(..., C, M_p / 2**J - 2, N_p / 2**J - 2)``; ``'list'``: one dict per
        path with ``'coef'`` (``(..., h, w)``), ``'j'``, ``'theta'``, ``'n'``, ``'order'``.
    bank : FilterBank or callable, optional (keyword only, as the next two)
        The filters. A :class:`scatter.filters.FilterBank` on the padded grid (see below), or a callable
        ``bank(padded_shape) -> FilterBank``. Default: ``filters.morlet_2d(padded, J, L)``, which
        gives Kymatio's numbers.
    check_input : bool
        Check the input for NaN/inf (one device-to-host sync per chunk, see ``batch_size``; not
        inside ``torch.compile`` graphs).
    batch_size : int, optional
        Images per pass through the cascade: bounds the memory of the intermediate maps.
        Default: on the CPU, as many as keep the largest intermediate near 3 * 2**18 complex values
        (cache-friendly, about 2x faster than one huge pass); on a GPU, the whole batch. On the
        CPU without autograd, with ``torch.get_num_threads() = n > 1``, the chunks run ``n`` at a
        time on worker threads that each use one intra-op thread (1.1-1.5x faster than splitting
        every operation across the cores); the chunks in flight share the working-set target.
    learnable : bool or ParametricMorlet2D
        Learn the Morlet wavelets' parameters (orientation, centre frequency, width, aspect
        ratio; Gauthier et al., "Parametric Scattering Networks", CVPR 2022). ``True``: a
        :class:`scatter.ParametricMorlet2D` at Kymatio's parameters (the same numbers as
        ``learnable=False`` until trained); or such a module built on the padded grid with other
        initialisations (``init='random'``). It is the submodule ``wavelets``: its parameters are
        the network's ``parameters()`` and ``state_dict()``. While autograd is on and they require
        gradients, each call builds the filters from them in torch (the plain cascade);
        otherwise the network takes the current filters once per change and computes with its
        CPU engine (the fast path). The low-pass is not learned. Not with ``bank``.

    Parameters are attributes with the same names; assigning one (``S.max_order = 1``) checks it
    and rebuilds the network at once. Inputs, dtypes, devices and errors follow the policies of
    :mod:`scatter._base`: float32 or float64 tensors or arrays ``(..., M, N)``, computed in their
    own dtype; NumPy in, NumPy out.

    Attributes
    ----------
    M_padded, N_padded : int
        The padded grid (:func:`padded_shape_2d`).
    output_shape : (int, int)
        ``(M_padded / 2**J - 2, N_padded / 2**J - 2)``.

    What a bank must provide
    ------------------------
    ``bank.ndim == 2`` and ``bank.shape`` equal to the padded grid :func:`padded_shape_2d`
    (or to ``shape`` with ``pre_pad=True``); a low-pass ``phi`` of scale ``2**J`` (its
    ``phi_meta['j']``, when given, must be ``J``; otherwise a ``phi`` whose band reaches past the
    Nyquist frequency of the ``2**J`` subsampling is refused); an integer
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


    _PARAMS = ("J", "shape", "L", "max_order", "pre_pad", "backend", "out_type", "bank",
               "check_input", "batch_size", "learnable")
    _ndim = 2

    def __init__(self, J: int, shape, L: int = 8, max_order: int = 2, pre_pad: bool = False,
                 backend=None, out_type: str = "array", *, bank: FilterBank | Callable | None = None,
                 check_input: bool = True, batch_size: int | None = None,
                 learnable=False) -> None:
        super().__init__()
        self.J, self.shape, self.L, self.max_order, self.pre_pad = J, shape, L, max_order, pre_pad
        self.backend, self.out_type, self.bank = backend, out_type, bank
        self.check_input, self.batch_size = check_input, batch_size
        self.__dict__["learnable"] = learnable     # a value, not a registered submodule
        self._learned_at = None
        self._configure()

    # ------------------------------------------------------------------------ construction
    def _check_params(self) -> dict:
        check_backend(self.backend)
        J = check_int("J", self.J, minimum=1)
        shape = check_shape("shape", self.shape, 2)
        if 2 ** J > min(shape):
            raise ScatteringShapeError(
                f"J={J} is too large for shape {shape}: the smallest side must be >= 2**J = {2 ** J} "
                f"(use J <= {int(math.log2(min(shape)))})")
        if not isinstance(self.pre_pad, (bool, np.bool_)):
            raise TypeError(f"pre_pad must be True or False, got {self.pre_pad!r}")
        if self.out_type not in ("array", "list"):
            raise ScatteringError(f"out_type must be one of ['array', 'list'], got {self.out_type!r}")
        return {"J": J, "shape": shape, "L": check_int("L", self.L, minimum=1),
                "max_order": check_choice("max_order", self.max_order, (1, 2)),
                "pre_pad": bool(self.pre_pad), "backend": self.backend,
                "out_type": self.out_type,
                "bank": self.__dict__.get("bank"), "check_input": bool(self.check_input),
                "batch_size": None if self.batch_size is None
                else check_int("batch_size", self.batch_size, minimum=1),
                "learnable": self._check_learnable(shape, J)}

    def _check_learnable(self, shape: tuple, J: int):
        from .parametric_morlet import ParametricMorlet2D

        learnable = self.__dict__.get("learnable", False)
        if isinstance(learnable, ParametricMorlet2D):
            grid = shape if self.pre_pad else padded_shape_2d(shape, J)
            if tuple(learnable.shape) != tuple(grid) or learnable.J != J:
                raise ScatteringError(f"learnable: the wavelets' grid {learnable.shape} and J="
                                      f"{learnable.J} must be the padded grid {grid} and J={J} "
                                      f"(ParametricMorlet2D(padded_shape_2d(shape, J), J, L))")
        elif not isinstance(learnable, (bool, np.bool_)):
            raise TypeError(f"learnable must be True, False or a ParametricMorlet2D, got "
                            f"{type(learnable).__name__}")
        if learnable is not False and self.__dict__.get("bank") is not None:
            raise ScatteringError("give bank= (fixed filters) or learnable= (trained Morlet "
                                  "wavelets), not both")
        return learnable

    @staticmethod
    def _build_key(params: dict) -> tuple:
        return (params["J"], params["shape"], params["L"], params["max_order"], params["pre_pad"],
                id(params["bank"]), id(params["learnable"]))

    def _build(self, params: dict) -> dict:
        J, shape = params["J"], params["shape"]
        grid = padded_shape_2d(shape, J)
        bank = params["bank"]
        wavelets = self._wavelets(params["learnable"], grid, J, params["L"])
        if wavelets is not None:
            bank = wavelets.to_filter_bank()         # the current parameters, for the fast path
            self._learned_at = _version_of(wavelets)
        elif bank is None:
            bank = _default_bank(grid, J, params["L"])
        elif callable(bank) and not isinstance(bank, FilterBank):
            bank = bank(grid)
        js = check_bank(bank, grid, f"the padded grid {grid} (padded_shape_2d({shape}, J={J}))",
                        J - 1, f"[0, J={J})")
        _check_lowpass_scale(bank, J)
        groups = tuple((j, np.flatnonzero(js == j)) for j in range(J) if np.any(js == j))
        thetas = bank.meta.get("theta", np.zeros(len(bank), dtype=int))
        step = 2 ** J
        plan = Plan2D(J=J, max_order=params["max_order"], padded_shape=grid,
                      output_shape=(grid[0] // step - 2, grid[1] // step - 2), bank=bank,
                      groups=groups, res=_resolutions(bank, groups),
                      rows=self._path_rows(groups, thetas, params["max_order"]))
        M, N = shape
        Mp, Np = grid
        pad = None if params["pre_pad"] else (
            reflect_indices(M, (Mp - M) // 2, (Mp - M + 1) // 2).to(self._device),
            reflect_indices(N, (Np - N) // 2, (Np - N + 1) // 2).to(self._device))
        return {"_plan": plan, "_pad": pad}

    def _wavelets(self, learnable, grid: tuple, J: int, L: int):
        """The learnable wavelets (registered as the submodule ``wavelets``), or None."""
        from .parametric_morlet import ParametricMorlet2D

        current = self._modules.get("wavelets")
        if learnable is False:
            self._modules.pop("wavelets", None)
            return None
        if learnable is True:
            # kept across rebuilds while it fits (its trained parameters are not thrown away)
            if not (isinstance(current, ParametricMorlet2D) and tuple(current.shape) == tuple(grid)
                    and current.J == J and current.L == L):
                current = ParametricMorlet2D(grid, J, L).to(self._device)
            learnable = current
        self._modules["wavelets"] = learnable
        return learnable

    def _differentiates_filters(self) -> bool:
        """A call builds the filters from the learnable wavelets, differentiably (autograd on
        and some wavelet parameter requiring a gradient)."""
        wavelets = self._modules.get("wavelets")
        return (wavelets is not None and torch.is_grad_enabled()
                and any(p.requires_grad for p in wavelets.parameters()))

    def forward(self, x):
        wavelets = self._modules.get("wavelets")
        if wavelets is not None and not self._differentiates_filters() \
                and _version_of(wavelets) != self._learned_at:
            # trained since the network last took its filters: rebuild them (and the CPU
            # engine) from the current parameters, once per change
            self._key = None
            self._configure()
        return super().forward(x)

    def _use_engine(self, x: torch.Tensor) -> bool:
        return super()._use_engine(x) and not self._differentiates_filters()

    def _plain_filters(self, dtype: torch.dtype):
        if not self._differentiates_filters():
            return super()._plain_filters(dtype)
        from .core.ops import crop_fourier as crop

        plan = self._plan
        psi = self._modules["wavelets"]().to(dtype)           # (K, M_p, N_p), differentiable
        index = {j: torch.as_tensor(ix, device=psi.device) for j, ix in plan.groups}
        scales = []
        for j, _ in plan.groups:
            later = tuple((plan.res[j2], crop(psi[index[j2]], 2 ** plan.res[j]))
                          for j2, _ in plan.groups if j2 > j and plan.max_order == 2)
            scales.append(Scale2D(res=plan.res[j], psi=psi[index[j]], later=later))
        return Filters2D(J=plan.J, scales=tuple(scales), phi=super()._plain_filters(dtype).phi)

    @staticmethod
    def _path_rows(groups, thetas, max_order: int) -> tuple:
        rows = [(0, (), (), ())]
        for j1, index1 in groups:
            rows += [(1, (j1,), (int(thetas[n1]),), (int(n1),)) for n1 in index1]
        if max_order == 2:
            for j1, index1 in groups:
                for n1 in index1:
                    for j2, index2 in groups:
                        if j2 > j1:
                            rows += [(2, (j1, j2), (int(thetas[n1]), int(thetas[n2])), (int(n1), int(n2)))
                                     for n2 in index2]
        return tuple(rows)

    @staticmethod
    def _prepare(plan: Plan2D, dtype: torch.dtype, device: torch.device) -> Filters2D:
        """The plain cascade's filters: each wavelet at every resolution it is used at."""
        bank, res = plan.bank, plan.res
        scales = []
        for j, index in plan.groups:
            later = tuple((res[j2], as_tensor(crop_fourier(bank.psi[index2], 2 ** res[j]), dtype, device))
                          for j2, index2 in plan.groups if j2 > j and plan.max_order == 2)
            scales.append(Scale2D(res=res[j], psi=as_tensor(bank.psi[index], dtype, device), later=later))
        phi = tuple(as_tensor(crop_fourier(bank.phi, 2 ** r), dtype, device) for r in range(plan.J))
        return Filters2D(J=plan.J, scales=tuple(scales), phi=phi)

    def _make_engine(self, dtype: torch.dtype):
        from .engine.cpu2d import CpuEngine2D

        return CpuEngine2D(self._plan, dtype, self._pad)

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if self._pad is not None:
            self._pad = tuple(fn(t) for t in self._pad)
        return self

    # -------------------------------------------------------------------------------- info
    @property
    def padded_shape(self) -> tuple[int, int]:
        """The padded grid ``(M_p, N_p)`` (:func:`padded_shape_2d`)."""
        return self._plan.padded_shape

    @property
    def M_padded(self) -> int:
        """Rows of the padded grid."""
        return self._plan.padded_shape[0]

    @property
    def N_padded(self) -> int:
        """Columns of the padded grid."""
        return self._plan.padded_shape[1]

    @property
    def _M_padded(self) -> int:
        """Kymatio's name of :attr:`M_padded`."""
        return self._plan.padded_shape[0]

    @property
    def _N_padded(self) -> int:
        """Kymatio's name of :attr:`N_padded`."""
        return self._plan.padded_shape[1]

    @property
    def psi(self) -> list[dict]:
        """The wavelets as Kymatio lays them out: ``[{'levels', 'j', 'theta'}]``, ``levels[r]``
        the Fourier filter on the padded grid subsampled by ``2**r`` (float64 NumPy, Kymatio's
        periodisation), for ``r < min(j + 1, max(J - 1, 1))`` as in Kymatio."""
        bank, J = self._plan.bank, self.J
        thetas = bank.meta.get("theta", np.zeros(len(bank), dtype=int))
        out = []
        for n in range(len(bank)):
            j = int(bank.meta["j"][n])
            out.append({"levels": [crop_fourier(bank.psi[n], 2 ** r)
                                   for r in range(min(j + 1, max(J - 1, 1)))],
                        "j": j, "theta": int(thetas[n])})
        return out

    @property
    def phi(self) -> dict:
        """The low-pass as Kymatio lays it out: ``{'levels', 'j'}``, ``levels[r]`` for
        ``r < J`` (see :attr:`psi`)."""
        bank = self._plan.bank
        return {"levels": [crop_fourier(bank.phi, 2 ** r) for r in range(self.J)], "j": self.J}

    @property
    def M(self) -> int:
        """Rows of the input (``shape[0]``), as Kymatio's ``M``."""
        return int(self.shape[0])

    @property
    def N(self) -> int:
        """Columns of the input (``shape[1]``), as Kymatio's ``N``."""
        return int(self.shape[1])

    @property
    def output_shape(self) -> tuple[int, int]:
        """Spatial size ``(h, w)`` of the coefficients."""
        return self._plan.output_shape

    @property
    def bank(self) -> FilterBank:
        """The filter bank in use: the ``bank`` parameter resolved (built on the padded grid when
        it is a callable, Kymatio's Morlet bank when ``None``). Assigning a bank, a callable or
        ``None`` rebuilds the network."""
        return self._plan.bank

    @bank.setter
    def bank(self, value) -> None:
        self.__dict__["bank"] = value    # the parameter as given (before construction ends)

    def output_size(self) -> int:
        """Number of channels ``C``."""
        return len(self._plan.rows)

    def meta(self) -> dict:
        """Describe every output channel, in output order.

        Returns
        -------
        dict of ndarray, each of length C (the number of channels)
            ``'order'`` (int), ``'j'`` (C, 2) and ``'theta'`` (C, 2) of the first and second
            wavelet (NaN where the order has none), ``'n'`` (C, 2) the filter indices in the bank,
            ``'key'`` a list of ``(j, theta)`` tuples like Kymatio's ``(j1, j2)`` keys.
        """
        rows = self._plan.rows
        out = {"order": np.array([r[0] for r in rows])}
        for pos, name in ((1, "j"), (2, "theta"), (3, "n")):
            arr = np.full((len(rows), 2), np.nan)
            for i, r in enumerate(rows):
                arr[i, :len(r[pos])] = r[pos]
            out[name] = arr
        out["key"] = [tuple(zip(r[1], r[2])) for r in rows]
        return out

    def extra_repr(self) -> str:
        bank = self._plan.bank
        return (f"J={self.J}, shape={self.shape}, L={self.L}, max_order={self.max_order}, "
                f"bank={bank.name!r} ({len(bank)} filters), out_type={self.out_type!r}")

    # ------------------------------------------------------------------------------ compute
    def _grid_of_input(self) -> tuple[int, int]:
        return self._plan.padded_shape if self.pre_pad else self.shape

    def _shape_message(self, got: tuple) -> str:
        return (f"x has spatial shape {got}, expected {tuple(self._grid_of_input())}"
                + (" (pre_pad=True: the padded shape)" if self.pre_pad else ""))

    def _cascade(self, x: torch.Tensor, filters: Filters2D) -> torch.Tensor:
        return cascade2d(x if self._pad is None else reflect_pad(x, self._pad), filters)

    def _format(self, coefs: torch.Tensor, lead: tuple, from_numpy: bool):
        if self.out_type == "list":
            return [{"coef": to_output(coefs[:, c].reshape(*lead, *coefs.shape[-2:]), from_numpy),
                     "j": js, "theta": thetas, "n": ns, "order": order}
                    for c, (order, js, thetas, ns) in enumerate(self._plan.rows)]
        return to_output(coefs.reshape(*lead, *coefs.shape[1:]), from_numpy)

    def release_workspace(self) -> None:
        """Free the work buffers that CPU inference keeps between calls.

        On the CPU, inference writes the wavelet products (then their moduli) and full spectra
        into buffers reused from one call to the next (each about as large as the biggest such
        intermediate of a chunk, a few MB with the automatic chunking): fresh ones cost more in
        page faults than the products themselves.
        """
        for engine in self._engines.values():
            engine.release_workspace()
