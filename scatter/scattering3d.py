"""The 3D solid harmonic scattering network: Kymatio 0.3's ``HarmonicScattering3D``.

A thin frontend over :func:`scatter.core.cascade3d` (plain torch: autograd, any device, chunked
to bounded memory); :class:`scatter._base.ScatteringBase` holds the shared policies.
"""
from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ._base import ScatteringBase, ScatteringError, as_tensor, check_backend, to_output
from ._validation import check_choice, check_float, check_int, check_shape
from .core import Filters3D, cascade3d
from .filters import FilterBank
from .filters.solid_harmonic import solid_harmonic_3d


@functools.lru_cache(maxsize=4)
def _default_bank(shape: tuple, J: int, L: int, sigma_0: float) -> FilterBank:
    """The solid harmonic bank, designed once per parameters (banks are immutable)."""
    return solid_harmonic_3d(shape, J, L, sigma_0)


@dataclass(frozen=True)
class Plan3D:
    """What a 3D network computes: its bank (float64), paths and powers.

    Attributes
    ----------
    bank : FilterBank
    J, L, max_order : int
    rotation_covariant : bool
    powers : tuple of float
    paths : tuple of (int, tuple)
        ``(order, js)`` of every path, in output order.
    """

    bank: FilterBank
    J: int
    L: int
    max_order: int
    rotation_covariant: bool
    powers: tuple
    paths: tuple


class HarmonicScattering3D(ScatteringBase):
    r"""3D solid harmonic scattering with integral invariants, as in Kymatio 0.3.

    The transform of Eickenberg, Exarchakis, Hirn, Mallat & Thiry ("Solid harmonic wavelet
    scattering for predictions of molecule properties", J. Chem. Phys. 148, 241732, 2018) for
    densities on a 3D grid, with the wavelets of :func:`scatter.filters.solid_harmonic_3d`
    (scales ``sigma_0 * 2**j``, ``j = 0..J``, degrees ``l = 0..L``)::

        U1[j1, l] = sqrt(sum_m |x * psi_{j1,l,m}|**2)
        U2[j1, j2, l] = sqrt(sum_m |U1[j1, l] * psi_{j2,l,m}|**2)         (j2 > j1)
        S[path, l, q] = sum over the grid of U[path, l]**q,   q in integral_powers

    With ``rotation_covariant=True`` the moduli sum over the ``2l + 1`` orders ``m``, so the
    invariants do not change when the density is rotated (exactly for grid rotations by 90
    degrees); with ``False`` only ``m = -l`` is used (``|x * psi_{j,l,-l}|``), as Kymatio does.
    Convolutions are circular (FFTs on the grid).

    Parameters
    ----------
    J : int >= 0
        Largest scale index (``J + 1`` scales).
    shape : (int, int, int)
        Grid ``(M, N, O)`` of the inputs.
    L : int >= 0
        Largest degree ``l`` of the solid harmonics.
    sigma_0 : float > 0
        Width in samples of the finest wavelet.
    max_order : {1, 2}
        Highest scattering order.
    rotation_covariant : bool
        Sum the moduli over ``m`` (see above).
    method : {'integral'}
        Kymatio's parameter; ``'integral'`` (sums of powers over the grid) is the one method,
        as in Kymatio 0.3's torch frontend (``'local'`` raises :class:`scatter.ScatteringError`).
    points : None
        Kymatio's parameter for ``method='local'``; must be ``None``.
    integral_powers : sequence of float > 0
        The exponents ``q``.
    backend : None or 'torch'
        Kymatio's parameter: PyTorch is the only backend (any other raises ``ImportError``).
    check_input : bool (keyword only, as the next one)
        Check the input for NaN/inf (one device-to-host sync).
    batch_size : int, optional
        Densities per pass through the cascade. Whatever it is, the cascade cuts its work into
        chunks whose largest intermediate stays under ``2**23`` complex values (64 MiB in
        float32; CPU inference: ``2**21`` per worker thread).

    Parameters are attributes with the same names; assigning one (``S.max_order = 1``) checks it
    and rebuilds the network at once. Inputs follow the policies of :mod:`scatter._base`:
    float32 or float64 tensors or arrays ``(..., M, N, O)``, computed in their own dtype (Kymatio
    returns float32 for float64 input); NumPy in, NumPy out.

    Output: ``(..., K, L + 1, P)`` with ``K = J + 1`` order-1 paths (by ``j1``), followed for
    ``max_order=2`` by the ``J (J + 1) / 2`` pairs ``(j1, j2)``, ``j1 < j2``, lexicographically;
    ``P = len(integral_powers)``. :meth:`meta` describes each entry.

    Notes
    -----
    Kymatio's filter grid puts the origin off index 0 on odd sizes
    (:func:`scatter.filters.kymatio_grid_3d`); the bank follows it, so outputs match Kymatio's
    there too, but the rotation covariance on grids of odd size is then only approximate.

    Examples
    --------
    >>> import torch
    >>> from scatter import HarmonicScattering3D
    >>> S = HarmonicScattering3D(J=2, shape=(16, 16, 16), L=2)
    >>> x = torch.rand(4, 16, 16, 16)
    >>> S(x).shape                                  # (batch, K paths, L + 1, powers)
    torch.Size([4, 6, 3, 3])
    >>> S.meta()["order"][:, 0, 0].tolist()
    [1, 1, 1, 2, 2, 2]
    """

    _PARAMS = ("J", "shape", "L", "sigma_0", "max_order", "rotation_covariant", "method", "points",
               "integral_powers", "backend", "check_input", "batch_size")
    _ndim = 3

    def __init__(self, J: int, shape, L: int = 3, sigma_0: float = 1, max_order: int = 2,
                 rotation_covariant: bool = True, method: str = "integral", points=None,
                 integral_powers=(0.5, 1., 2.), backend=None, *, check_input: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__()
        self.J, self.shape, self.L, self.sigma_0 = J, shape, L, sigma_0
        self.max_order, self.rotation_covariant = max_order, rotation_covariant
        self.method, self.points, self.integral_powers = method, points, integral_powers
        self.backend, self.check_input, self.batch_size = backend, check_input, batch_size
        self._configure()

    # ------------------------------------------------------------------------ construction
    def _check_params(self) -> dict:
        check_backend(self.backend)
        if not (isinstance(self.method, str) and self.method == "integral"):
            raise ScatteringError(f"method must be one of ['integral'], got {self.method!r} (Kymatio "
                                  f"0.3's torch frontend supports only 'integral' as well)")
        if self.points is not None:
            raise ScatteringError("points is used by method='local' only, which is not supported: "
                                  "pass points=None")
        if not isinstance(self.rotation_covariant, (bool, np.bool_)):
            raise TypeError(f"rotation_covariant must be True or False, got {self.rotation_covariant!r}")
        powers = self.integral_powers
        if isinstance(powers, numbers.Real) or isinstance(powers, (str, bytes)):
            raise TypeError(f"integral_powers must be a sequence of positive numbers, got {powers!r}")
        try:
            powers = tuple(powers)
        except TypeError:
            raise TypeError(f"integral_powers must be a sequence of positive numbers, got "
                            f"{self.integral_powers!r}") from None
        if not powers:
            raise ValueError("integral_powers must hold at least one exponent, got an empty sequence")
        powers = tuple(check_float(f"integral_powers[{i}]", q, positive=True) for i, q in enumerate(powers))
        return {"J": check_int("J", self.J, minimum=0), "shape": check_shape("shape", self.shape, 3),
                "L": check_int("L", self.L, minimum=0),
                "sigma_0": check_float("sigma_0", self.sigma_0, positive=True),
                "max_order": check_choice("max_order", self.max_order, (1, 2)),
                "rotation_covariant": bool(self.rotation_covariant), "method": "integral",
                "points": None, "integral_powers": self.integral_powers, "backend": self.backend,
                "check_input": bool(self.check_input),
                "batch_size": None if self.batch_size is None
                else check_int("batch_size", self.batch_size, minimum=1),
                "_powers": powers}

    def _configure(self) -> None:
        super()._configure()
        self.__dict__.pop("_powers", None)

    @staticmethod
    def _build_key(params: dict) -> tuple:
        return (params["J"], params["shape"], params["L"], params["sigma_0"], params["max_order"],
                params["rotation_covariant"], params["_powers"])

    def _build(self, params: dict) -> dict:
        J, L, order = params["J"], params["L"], params["max_order"]
        bank = _default_bank(params["shape"], J, L, params["sigma_0"])
        paths = [(1, (j1,)) for j1 in range(J + 1)]
        if order == 2:
            paths += [(2, (j1, j2)) for j1 in range(J + 1) for j2 in range(j1 + 1, J + 1)]
        plan = Plan3D(bank=bank, J=J, L=L, max_order=order,
                      rotation_covariant=params["rotation_covariant"], powers=params["_powers"],
                      paths=tuple(paths))
        return {"_plan": plan}

    @staticmethod
    def _prepare(plan: Plan3D, dtype: torch.dtype, device: torch.device) -> Filters3D:
        bank, psi = plan.bank, []
        ls, ms = np.asarray(bank.meta["l"]), np.asarray(bank.meta["m"])
        for l in range(plan.L + 1):
            keep = (ls == l) & ((ms == -l) | plan.rotation_covariant)
            n_m = int(keep.sum()) // (plan.J + 1)
            filters = bank.psi[keep].reshape(plan.J + 1, n_m, *bank.shape)
            psi.append(as_tensor(filters, dtype, device))
        return Filters3D(psi=tuple(psi), powers=plan.powers, max_order=plan.max_order)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Accept Kymatio's state dicts: besides ``tensor0``, ``tensor1``, ... (dropped by the
        base), its 3D network keeps ``tensor_gaussian_filter``, which ours does not use."""
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        key = prefix + "tensor_gaussian_filter"
        if key in unexpected_keys:
            unexpected_keys.remove(key)

    def _make_engine(self, dtype: torch.dtype):
        from .engine.cpu3d import CpuEngine3D
        from .engine.mirror3d import hermitian_degrees, mirror_corrections

        # called under the engine lock, which _plain_filters takes too: fetch or make them here
        from ._base import _PRECISIONS

        key = _PRECISIONS[dtype]
        filters = self._filters.get(key)
        if filters is None:
            filters = self._filters[key] = self._prepare(self._plan, dtype, self._device)
        plan = self._plan
        mirror = (mirror_corrections(plan.bank, plan.J, plan.L, dtype, self._device)
                  if plan.rotation_covariant else None)
        return CpuEngine3D(filters, mirror, hermitian_degrees(plan.bank, plan.J, plan.L))

    def release_workspace(self) -> None:
        """Free the work buffers that CPU inference keeps between calls, per worker thread: one
        product buffer of at most ``2**21`` complex values, and the spectra and maps of a chunk
        (at 128^3 in float32, 128 MB per worker thread for ``J = 2``)."""
        for engine in self._engines.values():
            engine.release_workspace()

    # -------------------------------------------------------------------------------- info
    @property
    def M(self) -> int:
        """First grid size, as Kymatio's ``M``."""
        return int(self.shape[0])

    @property
    def N(self) -> int:
        """Second grid size, as Kymatio's ``N``."""
        return int(self.shape[1])

    @property
    def O(self) -> int:  # noqa: E743 (Kymatio's name)
        """Third grid size, as Kymatio's ``O``."""
        return int(self.shape[2])

    @property
    def bank(self) -> FilterBank:
        """The solid harmonic filter bank in use (:func:`scatter.filters.solid_harmonic_3d`)."""
        return self._plan.bank

    def output_size(self) -> int:
        """Number of paths ``K`` (the output is ``(..., K, L + 1, P)``)."""
        return len(self._plan.paths)

    def meta(self) -> dict:
        """Describe every output entry, in output order.

        Returns
        -------
        dict of ndarray, each of shape (K, L + 1, P) (the output's trailing shape)
            ``'order'`` (int, 1 or 2), ``'j'`` (shape ``(K, L + 1, P, 2)``, float: ``j1`` and
            ``j2``, NaN for order 1), ``'l'`` (int) and ``'power'`` (float, the exponent ``q``).
        """
        plan = self._plan
        K, P = len(plan.paths), len(plan.powers)
        shape = (K, plan.L + 1, P)
        order = np.array([p[0] for p in plan.paths])
        js = np.full((K, 2), np.nan)
        for i, (_, path) in enumerate(plan.paths):
            js[i, :len(path)] = path
        return {"order": np.broadcast_to(order[:, None, None], shape).copy(),
                "j": np.broadcast_to(js[:, None, None, :], shape + (2,)).copy(),
                "l": np.broadcast_to(np.arange(plan.L + 1)[None, :, None], shape).copy(),
                "power": np.broadcast_to(np.array(plan.powers)[None, None, :], shape).copy()}

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.shape}, L={self.L}, sigma_0={self.sigma_0}, "
                f"max_order={self.max_order}, rotation_covariant={self.rotation_covariant}, "
                f"integral_powers={self._plan.powers}")

    # ------------------------------------------------------------------------------ compute
    def _grid_of_input(self) -> tuple[int, int, int]:
        return self._plan.bank.shape

    def _cascade(self, x: torch.Tensor, filters: Filters3D) -> torch.Tensor:
        return cascade3d(x, filters)

    def _format(self, coefs: torch.Tensor, lead: tuple, from_numpy: bool):
        return to_output(coefs.reshape(*lead, *coefs.shape[1:]), from_numpy)
