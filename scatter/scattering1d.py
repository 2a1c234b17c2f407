"""The 1D scattering network: Kymatio 0.3's ``Scattering1D``, fed by any 1D filter bank.

A thin frontend over :func:`scatter.core.cascade1d` (autograd, CUDA, ``torch.compile``) and
:class:`scatter.engine.cpu1d.CpuEngine1D` (CPU inference); :class:`scatter._base.ScatteringBase`
chooses between them and holds the shared policies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ._base import ScatteringBase, ScatteringShapeError, as_tensor, check_backend, check_bank, \
    reflect_indices, to_output
from ._design import periodise
from ._validation import check_choice, check_int, check_shape
from .core import Filters1D, Scale1D, cascade1d
from .core.ops import reflect_pad
from .filters import FilterBank, kymatio_padding_1d, morlet_1d
from .filters.morlet1d import _check_Q


def _kymatio_T_average(T, average) -> tuple:
    """Kymatio 0.3's constructor rules for ``T`` and ``average``: ``T=0`` means no averaging
    (the low-pass scale is then ``2**J``), ``average=False`` goes with ``T`` None or 0 only,
    ``average=None`` means ``T != 0``. Returns ``(T, average)`` with ``T`` None for ``2**J``."""
    if average is not None and not isinstance(average, (bool, np.bool_)):
        raise TypeError(f"average must be True, False or None, got {average!r}")
    if T is not None and not isinstance(T, (bool, np.bool_)) and T == 0:
        if average:
            raise ValueError("average must not be True with T=0 (T=0 means no averaging)")
        return None, False
    if T is not None and average is not None and not average:
        raise ValueError(f"average=False needs T=None or T=0 (no averaging), got T={T!r}")
    return T, True if average is None else bool(average)


@dataclass(frozen=True)
class Plan1D:
    """What a 1D network computes, in float64: its padding, parameters, bank and paths.

    Attributes
    ----------
    J, N, N_padded, pad_left, log2_T, oversampling, max_order : int
    average : bool
    bank : FilterBank
    first, second : ndarray of int
        Bank rows of the first- and second-order filters, in ``n`` order.
    rows : tuple of (int, tuple)
        ``(order, ns)`` of every path in Kymatio's order (S0; S1 by n1; S2 by (n1, n2)).
    """

    J: int
    N: int
    N_padded: int
    pad_left: int
    log2_T: int
    oversampling: int
    max_order: int
    average: bool
    bank: FilterBank
    first: np.ndarray
    second: np.ndarray
    rows: tuple

    def sub(self, j: int, k_before: int = 0) -> int:
        """Subsampling exponent after a filter of scale ``j`` on maps subsampled by 2**k_before
        (Kymatio's ``max(min(j, log2 T) - k_before - oversampling, 0)``)."""
        return max((min(j, self.log2_T) if self.average else j) - k_before - self.oversampling, 0)

    def unpad_bounds(self, k: int) -> tuple[int, int]:
        """Indices of the signal in a padded map subsampled by ``2**k`` (Kymatio's unpad)."""
        step = 2 ** k
        return -(-self.pad_left // step), -(-(self.pad_left + self.N) // step)

    def first_groups(self) -> list[tuple[int, np.ndarray]]:
        """``(j1, n1s)``: the first-order filters grouped by scale, in increasing ``j1``."""
        js = np.asarray(self.bank.meta["j"]).astype(int)[self.first]
        return [(int(j1), np.flatnonzero(js == j1)) for j1 in sorted(set(js.tolist()))]

    def second_after(self, j1: int) -> np.ndarray:
        """``n2``: the second-order filters that follow scale ``j1`` (``j2 > j1``)."""
        js = np.asarray(self.bank.meta["j"]).astype(int)[self.second]
        return np.flatnonzero(js > j1)


def _level(design: np.ndarray) -> torch.Tensor:
    """A Fourier filter as Kymatio's frontend exposes it: a tensor ``(n, 1)`` (here float64)."""
    return torch.from_numpy(np.array(design)).reshape(-1, 1)


class Scattering1D(ScatteringBase):
    r"""1D scattering transform, as in Kymatio 0.3 but fed by any 1D filter bank.

    Computes ``S0 = x * phi``, ``S1 = |x * psi1| * phi`` and ``S2 = ||x * psi1| * psi2| * phi``
    (second-order filters with ``j2 > j1`` only), each subsampled by ``2**(log2 T - oversampling)``
    (Andén & Mallat, "Deep scattering spectrum", IEEE TSP 2014; Andreux et al., JMLR 2020).
    Signals are reflection-padded to ``N_padded`` (Kymatio's ``kymatio_padding_1d``); convolutions
    are products in the Fourier domain, each wavelet modulus is computed at the resolution its scale
    allows, and every filter of a scale is applied in one batched product and FFT.

    Parameters
    ----------
    J : int >= 0
        Log2 of the largest wavelet scale (``2**J <= N``); any integral scalar.
    shape : int or tuple (N,)
        Length of the input signals.
    Q : int or tuple
        Wavelets per octave: ``Q1`` (second order gets 1), ``(Q1,)`` or ``(Q1, Q2)``.
    T : float or None
        Averaging scale: ``None`` means ``2**J``; ``0`` means no averaging (then ``out_type``
        must be ``'list'`` or ``'dict'``; stored as ``T = 2**J``, ``average = False``, as
        Kymatio stores it); otherwise ``1 <= T <= N``. Output subsampling is ``2**floor(log2 T)``.
    max_order : {1, 2}
        Highest scattering order.
    average : bool or None
        ``False`` skips the final low-pass (as ``T=0``; Kymatio 0.3's deprecated flag, accepted
        with ``T`` None or 0 by the constructor, and assignable afterwards whatever ``T``).
        ``None`` (default): average unless ``T=0``. Stored as a bool.
    oversampling : int >= 0
        Subsample by ``2**oversampling`` less than the filters allow.
    out_type : {'array', 'list', 'dict'}
        ``'array'``: one tensor ``(..., C, N_out)``; ``'list'``: one dict per path with ``'coef'``
        (``(..., n)``), ``'j'``, ``'n'``, ``'xi'`` (tuples over the orders) and ``'order'``;
        ``'dict'``: the coefficients keyed by Kymatio's keys ``()``, ``(n1,)``, ``(n1, n2)``.
    backend : None or 'torch'
        Kymatio's parameter: PyTorch is the only backend (any other raises ``ImportError``).
    bank : FilterBank or callable, optional (keyword only, as the next two)
        The filters: a :class:`scatter.filters.FilterBank` on the padded grid (see below), or a callable
        ``bank(N_padded) -> FilterBank``. Default ``filters.morlet_1d(N_padded, J, Q, T)``, which
        gives Kymatio's numbers.
    check_input : bool
        Check the input for NaN/inf (one device-to-host sync per chunk, see ``batch_size``; not
        inside ``torch.compile`` graphs).
    batch_size : int, optional
        Signals per pass through the cascade: bounds the memory of the intermediate maps.
        Default: on the CPU, equal chunks that keep the largest batched inverse FFT under 2**24
        complex values in all; on a GPU, the whole batch. On the CPU without autograd, with
        ``torch.get_num_threads() = n > 1``, the chunks run ``n`` at a time on worker threads that
        each use one intra-op thread (and share the 2**24 bound).

    What a bank must provide
    ------------------------
    ``bank.ndim == 1`` and ``bank.shape == (N_padded,)``; a low-pass ``phi``; an integer
    ``meta['j'] >= 0`` for every band-pass: the largest ``2**j`` its modulus may be subsampled by
    (the filter is essentially supported at ``|f| < 2**-(j+1)`` cycles per sample);
    ``meta['order']`` (optional) 1 or 2 for a filter of one order only, 0 (or absent) for both;
    ``meta['xi']``/``meta['sigma']`` (optional) are reported by :meth:`meta`. When
    ``bank.phi_meta`` has ``'j'`` it must equal ``floor(log2 T)``. Fourier filters may be real or
    complex; only the Hermitian part of ``phi`` matters (the output is real, as in Kymatio).

    Parameters are attributes with the same names; assigning one (``S.max_order = 1``) checks it
    and rebuilds the network at once. ``Q`` is stored as Kymatio stores it, ``(Q1, Q2)``, and ``T``
    reads ``2**J`` when given as None or 0. Inputs, dtypes, devices and errors follow the policies
    of :mod:`scatter._base`: float32 or float64 tensors or arrays ``(..., N)``, computed in their
    own dtype; NumPy in, NumPy out.

    Attributes
    ----------
    psi1_f, psi2_f, phi_f
        The filters as Kymatio lays them out (lists of dicts with ``'levels'``, ``'xi'``,
        ``'sigma'``, ``'j'``), each level a float64 tensor ``(n, 1)``.
    N_padded, pad_left, pad_right : int
        Padded length and reflection padding on each side.
    log2_T : int
        ``floor(log2 T)``; outputs have length
        ``ceil((pad_left + N) / 2**k) - ceil(pad_left / 2**k)`` with
        ``k = max(log2_T - oversampling, 0)``.

    Notes
    -----
    The numbers are Kymatio 0.3's (its ``scattering1d`` core: Fourier subsampling as the mean of
    aliases, filters periodised the same way, ``k1 = max(min(j1, log2 T) - oversampling, 0)`` ...),
    computed differently:

    - real FFTs of the input and of the moduli (half spectra); band-pass products read one window
      of frequencies shared by all filters of a scale (a view, no gather), folded with a circular
      shift that the modulus removes (see ``_window_plan``);
    - the second-order low-pass, subsampling and unpadding are one matrix product per scale pair
      (no FFT pair); short second-order maps of a scale share one product and FFT;
    - CPU inference runs :class:`scatter.engine.cpu1d.CpuEngine1D` (work buffers kept per thread
      between calls, :meth:`release_workspace` frees them; in-place inverse FFTs); autograd, CUDA
      and ``torch.compile`` run the plain cascade :func:`scatter.core.cascade1d`.

    Examples
    --------
    >>> import torch
    >>> from scatter import Scattering1D
    >>> S = Scattering1D(J=6, shape=4096, Q=8)
    >>> S(torch.randn(2, 3, 4096)).shape[:2]
    torch.Size([2, 3])
    >>> S.Q                                  # stored as Kymatio stores it
    (8, 1)
    """

    _PARAMS = ("J", "shape", "Q", "T", "max_order", "average", "oversampling", "out_type",
               "backend", "bank", "check_input", "batch_size")
    _ndim = 1

    def __init__(self, J: int, shape, Q=1, T=None, max_order: int = 2, average: bool | None = None,
                 oversampling: int = 0, out_type: str = "array", backend=None, *,
                 bank: FilterBank | Callable | None = None, check_input: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__()
        T, average = _kymatio_T_average(T, average)
        self.J, self.shape, self.Q, self.T, self.max_order = J, shape, Q, T, max_order
        self.average, self.oversampling, self.out_type, self.backend = average, oversampling, out_type, backend
        self.bank, self.check_input, self.batch_size = bank, check_input, batch_size
        self._configure()

    # ------------------------------------------------------------------------ construction
    def _check_params(self) -> dict:
        check_backend(self.backend)
        J = check_int("J", self.J, minimum=0)
        (N,) = check_shape("shape", self.shape, 1, minimum=2)
        if 2 ** J > N:
            raise ScatteringShapeError(f"J={J} is too large for signals of length {N}: 2**J must be "
                                       f"<= N (use J <= {int(math.log2(N))})")
        Q = _check_Q(self.Q)
        T = self.__dict__["T"]
        if T is not None and not isinstance(T, (bool, np.bool_)) and T == 0:
            raise ValueError("T=0 (no averaging) is a constructor shorthand: assign average=False "
                             "instead")
        average = self.average
        if not isinstance(average, (bool, np.bool_)):
            raise TypeError(f"average must be True or False, got {average!r}")
        average = bool(average)
        out_type = check_choice("out_type", self.out_type, ("array", "list", "dict"))
        if not average and out_type == "array":
            raise ValueError("out_type='array' needs averaging (the paths have different lengths "
                             "without it): use out_type='list' or 'dict', or T=None / T >= 1")
        return {"J": J, "shape": (N,), "Q": Q, "T": T,
                "max_order": check_choice("max_order", self.max_order, (1, 2)),
                "average": average, "oversampling": check_int("oversampling", self.oversampling, minimum=0),
                "out_type": out_type, "backend": self.backend, "bank": self.__dict__.get("bank"),
                "check_input": bool(self.check_input),
                "batch_size": None if self.batch_size is None
                else check_int("batch_size", self.batch_size, minimum=1)}

    @staticmethod
    def _build_key(params: dict) -> tuple:
        return (params["J"], params["shape"], params["Q"], params["T"], params["max_order"],
                params["average"], params["oversampling"], id(params["bank"]))

    def _build(self, params: dict) -> dict:
        J, (N,), Q, T = params["J"], params["shape"], params["Q"], params["T"]
        N_padded = kymatio_padding_1d(N, J, Q, T)  # validates T against N
        log2_T = int(math.floor(math.log2(2 ** J if T in (None, 0) else T)))
        bank = params["bank"]
        if bank is None:
            bank = morlet_1d(N_padded, J, Q, T)
        elif callable(bank) and not isinstance(bank, FilterBank):
            bank = bank(N_padded)
        top = int(math.log2(N_padded))
        check_bank(bank, (N_padded,), f"the padded length ({N_padded},) (kymatio_padding_1d({N}, J={J}, "
                   f"Q={self.Q!r}, T={T!r}))", top, f"[0, log2(N_padded)={top}]")
        orders = np.asarray(bank.meta.get("order", np.zeros(len(bank), dtype=int)))
        if not set(orders.tolist()) <= {0, 1, 2}:
            raise ValueError(f"bank.meta['order'] must hold 0 (both orders), 1 or 2, got "
                             f"{sorted(set(orders.tolist()))}")
        if not np.any(orders != 2):
            raise ValueError("bank has no first-order filter (meta['order'] 0 or 1)")
        if "j" in bank.phi_meta and int(bank.phi_meta["j"]) != log2_T:
            raise ValueError(f"bank.phi_meta['j'] = {bank.phi_meta['j']} but this network averages "
                             f"at 2**floor(log2 T) = 2**{log2_T}: build the bank with the same T")
        first, second = np.flatnonzero(orders != 2), np.flatnonzero(orders != 1)
        js = np.asarray(bank.meta["j"]).astype(int)
        rows = [(0, ())] + [(1, (int(a),)) for a in range(len(first))]
        if params["max_order"] == 2:
            rows += [(2, (int(a), int(b))) for a in range(len(first))
                     for b in range(len(second)) if js[second[b]] > js[first[a]]]
        pad_left = (N_padded - N) // 2
        plan = Plan1D(J=J, N=N, N_padded=N_padded, pad_left=pad_left, log2_T=log2_T,
                      oversampling=params["oversampling"], max_order=params["max_order"],
                      average=params["average"], bank=bank, first=first, second=second,
                      rows=tuple(sorted(rows)))
        pad = reflect_indices(N, pad_left, N_padded - N - pad_left).to(self._device)
        return {"_plan": plan, "_pad": pad, "_paths": self._path_info(plan)}

    @staticmethod
    def _path_info(plan: Plan1D) -> tuple:
        """``(order, ns, js, xis)`` of every path (Kymatio's order), for list and dict outputs
        (kept as plain tuples: nothing to compute while ``torch.compile`` traces a call)."""
        bank, rows_of = plan.bank, (None, plan.first, plan.second)
        out = []
        for order, ns in plan.rows:
            rows = [rows_of[pos + 1][n] for pos, n in enumerate(ns)]
            js = tuple(int(bank.meta["j"][r]) for r in rows)
            xis = tuple(float(bank.meta["xi"][r]) for r in rows) if "xi" in bank.meta else \
                (float("nan"),) * order
            out.append((order, ns, js, xis))
        return tuple(out)

    @staticmethod
    def _prepare(plan: Plan1D, dtype: torch.dtype, device: torch.device) -> Filters1D:
        """The plain cascade's filters: wavelets grouped by scale, periodised to the resolution
        they are used at, and the low-pass at every resolution."""
        bank = plan.bank
        phi = 0.5 * (bank.phi + np.conj(np.roll(bank.phi[::-1], 1)))  # its Hermitian part
        phi = phi if np.iscomplexobj(bank.phi) else phi.real
        js2 = np.asarray(bank.meta["j"]).astype(int)[plan.second]
        rows, scales, top = [(0, ())], [], 0
        for j1, n1 in plan.first_groups():
            k1 = plan.sub(j1)
            rows += [(1, (int(a),)) for a in n1]
            later = []
            if plan.max_order == 2:
                valid = plan.second_after(j1)
                ks = np.array([plan.sub(int(j2), k1) for j2 in js2[valid]], dtype=int)
                for k2 in sorted(set(ks.tolist())):
                    n2 = valid[ks == k2]
                    rows += [(2, (int(a), int(b))) for a in n1 for b in n2]
                    psi2 = periodise(bank.psi[plan.second[n2]], k1)
                    later.append(Scale1D(k=k2, psi=as_tensor(psi2, dtype, device), later=()))
                    top = max(top, k1 + k2)
            top = max(top, k1)
            scales.append(Scale1D(k=k1, psi=as_tensor(bank.psi[plan.first[n1]], dtype, device),
                                  later=tuple(later)))
        order = tuple(sorted(range(len(rows)), key=lambda i: rows[i]))
        n_levels = int(math.log2(plan.N_padded)) + 1
        average_k = tuple(max(plan.log2_T - r - plan.oversampling, 0) for r in range(n_levels))
        return Filters1D(
            scales=tuple(scales),
            phi=tuple(as_tensor(periodise(phi, r), dtype, device) for r in range(top + 1)) if plan.average else (),
            average_k=average_k, bounds=tuple(plan.unpad_bounds(k) for k in range(n_levels)),
            order=order, order_index=torch.as_tensor(order, dtype=torch.int64, device=device))

    def _make_engine(self, dtype: torch.dtype):
        from .engine.cpu1d import CpuEngine1D

        return CpuEngine1D(self._plan, dtype, self._pad)

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self._pad = fn(self._pad)
        return self

    # -------------------------------------------------------------------------------- info
    @property
    def bank(self) -> FilterBank:
        """The filter bank in use: the ``bank`` parameter resolved (built on the padded length
        when it is a callable, Kymatio's Morlet bank when ``None``). Assigning a bank, a callable
        or ``None`` rebuilds the network."""
        return self._plan.bank

    @bank.setter
    def bank(self, value) -> None:
        self.__dict__["bank"] = value    # the parameter as given (before construction ends)

    @property
    def T(self):
        """The averaging scale: as given, or ``2**J`` when it was ``None`` or ``0`` (Kymatio
        stores it so). Assigning ``None`` or a value ``1 <= T <= N`` rebuilds the network."""
        T = self.__dict__.get("T")
        return 2 ** self.J if T is None else T

    @T.setter
    def T(self, value) -> None:
        self.__dict__["T"] = value       # the parameter as given (before construction ends)

    @property
    def N(self) -> int:
        """Length of the input signals (``shape[0]``)."""
        return self._plan.N

    @property
    def N_padded(self) -> int:
        """Padded length (Kymatio's ``kymatio_padding_1d``)."""
        return self._plan.N_padded

    @property
    def pad_left(self) -> int:
        """Reflection padding on the left."""
        return self._plan.pad_left

    @property
    def pad_right(self) -> int:
        """Reflection padding on the right."""
        return self._plan.N_padded - self._plan.N - self._plan.pad_left

    @property
    def log2_T(self) -> int:
        """``floor(log2 T)`` (``T = 2**J`` when ``T`` is None or 0)."""
        return self._plan.log2_T

    @property
    def _N_padded(self) -> int:
        """Kymatio's name of :attr:`N_padded`."""
        return self._plan.N_padded

    @property
    def J_pad(self) -> int:
        """``log2(N_padded)`` (Kymatio's ``J_pad``)."""
        return int(math.log2(self._plan.N_padded))

    @property
    def r_psi(self) -> float | None:
        """Kymatio's Morlet design parameter ``r_psi`` (the bank's, None if it gives none)."""
        return self._plan.bank.params.get("r_psi")

    @property
    def sigma0(self) -> float | None:
        """Kymatio's Morlet design parameter ``sigma0`` (the bank's, None if it gives none)."""
        return self._plan.bank.params.get("sigma0")

    @property
    def alpha(self) -> float | None:
        """Kymatio's Morlet design parameter ``alpha`` (the bank's, None if it gives none)."""
        return self._plan.bank.params.get("alpha")

    @property
    def ind_start(self) -> dict[int, int]:
        """``{k: first sample of the signal in maps subsampled by 2**k}`` for
        ``0 <= k <= max(log2_T, J)`` (Kymatio's ``ind_start``)."""
        return {k: self._plan.unpad_bounds(k)[0] for k in range(max(self.log2_T, self.J) + 1)}

    @property
    def ind_end(self) -> dict[int, int]:
        """``{k: one past the last sample of the signal in maps subsampled by 2**k}`` (Kymatio's
        ``ind_end``)."""
        return {k: self._plan.unpad_bounds(k)[1] for k in range(max(self.log2_T, self.J) + 1)}

    @property
    def output_length(self) -> int:
        """Length of the averaged coefficients (``out_type='array'``)."""
        start, end = self._plan.unpad_bounds(max(self.log2_T - self.oversampling, 0))
        return end - start

    def output_size(self, detail: bool = False):
        """Number of paths ``C``; with ``detail``, a list of the counts per order (Kymatio's)."""
        orders = [order for order, _ in self._plan.rows]
        counts = [orders.count(o) for o in range(self.max_order + 1)]
        return counts if detail else sum(counts)

    def meta(self) -> dict:
        """Describe every output channel, in output order (Kymatio 0.3's ``meta()``).

        Returns
        -------
        dict
            ``'order'`` (C,) int; ``'j'``, ``'n'``, ``'xi'``, ``'sigma'`` (C, max_order) float of
            the first and second filter (NaN where the order has none, or the bank gives no such
            meta); ``'n'`` is the index among the filters of that order; ``'key'`` the list of
            ``n`` tuples (Kymatio's keys: ``()``, ``(n1,)``, ``(n1, n2)``).
        """
        plan, bank = self._plan, self._plan.bank
        rows_of = (None, plan.first, plan.second)
        out = {"order": np.array([order for order, _ in plan.rows])}
        for name in ("xi", "sigma", "j", "n"):
            arr = np.full((len(plan.rows), self.max_order), np.nan)
            for i, (order, ns) in enumerate(plan.rows):
                for pos, n in enumerate(ns):
                    if name == "n":
                        arr[i, pos] = n
                    elif name in bank.meta:
                        arr[i, pos] = bank.meta[name][rows_of[pos + 1][n]]
            out[name] = arr
        out["key"] = [ns for _, ns in plan.rows]
        return out

    def _kymatio_filters(self, rows: np.ndarray, levels) -> list[dict]:
        bank = self._plan.bank
        out = []
        for n, row in enumerate(rows):
            entry = {"levels": [_level(periodise(bank.psi[row], k)) for k in range(levels(n) + 1)]}
            for name in ("xi", "sigma", "j"):
                if name in bank.meta:
                    value = bank.meta[name][row]
                    entry[name] = int(value) if name == "j" else float(value)
            out.append(entry)
        return out

    @property
    def psi1_f(self) -> list[dict]:
        """First-order filters as Kymatio lays them out: ``[{'levels': [psi], 'xi', 'sigma', 'j'}]``,
        each level a float64 tensor ``(N_padded, 1)`` in the Fourier domain (a copy of the
        bank's design, on the CPU)."""
        return self._kymatio_filters(self._plan.first, lambda n: 0)

    @property
    def psi2_f(self) -> list[dict]:
        """Second-order filters as Kymatio lays them out; ``'levels'[k]`` is the filter periodised
        for maps subsampled by ``2**k``, for every ``k`` a first-order modulus reaches it at."""
        plan = self._plan
        js1 = np.asarray(plan.bank.meta["j"]).astype(int)[plan.first]
        js2 = np.asarray(plan.bank.meta["j"]).astype(int)[plan.second]

        def levels(n: int) -> int:
            ks = [plan.sub(int(j1)) for j1 in js1 if j1 < js2[n]]
            return max(ks, default=0)

        return self._kymatio_filters(plan.second, levels)

    @property
    def phi_f(self) -> dict:
        """The low-pass as Kymatio lays it out: ``{'levels': [phi, ...], 'xi', 'sigma', 'j'}``."""
        plan, bank = self._plan, self._plan.bank
        js = np.asarray(bank.meta["j"]).astype(int)
        top = min(int(js.max()), plan.log2_T)
        out = {"levels": [_level(periodise(bank.phi, k)) for k in range(top + 1)], "xi": 0.0}
        if "sigma" in bank.phi_meta:
            out["sigma"] = float(bank.phi_meta["sigma"])
        out["j"] = plan.log2_T
        return out

    def fft_floor_shapes(self, batch: int) -> list:
        """The batched FFTs an optimal cascade needs for ``batch`` signals, ``[(shape, kind)]``
        (see :meth:`scatter.engine.cpu1d.CpuEngine1D.fft_floor_shapes`)."""
        return self._engine(torch.float32).fft_floor_shapes(batch)

    def extra_repr(self) -> str:
        bank = self._plan.bank
        return (f"J={self.J}, shape={self.shape}, Q={self.Q!r}, T={self.T!r}, "
                f"max_order={self.max_order}, average={self.average}, "
                f"oversampling={self.oversampling}, N_padded={self.N_padded}, "
                f"bank={bank.name!r} ({len(bank)} filters), out_type={self.out_type!r}")

    # ------------------------------------------------------------------------------ compute
    def _grid_of_input(self) -> tuple[int]:
        return self.shape

    def _shape_message(self, got: tuple) -> str:
        return f"x has length {got[0]} on its last axis, expected shape={self.shape[0]}"

    def _cascade(self, x: torch.Tensor, filters: Filters1D):
        return cascade1d(x, reflect_pad(x, (self._pad,)), filters, self.average)

    def _format(self, coefs, lead: tuple, from_numpy: bool):
        if self.out_type == "array":
            return to_output(coefs.reshape(*lead, *coefs.shape[1:]), from_numpy)
        out = []
        for c, (order, ns, js, xis) in enumerate(self._paths):
            coef = coefs[:, c] if isinstance(coefs, torch.Tensor) else coefs[c]
            coef = to_output(coef.reshape(*lead, coef.shape[-1]), from_numpy)
            if self.out_type == "dict":
                out.append((ns, coef))
            else:
                out.append({"coef": coef, "j": js, "n": ns, "xi": xis, "order": order})
        return dict(out) if self.out_type == "dict" else out

    def release_workspace(self) -> None:
        """Free the work buffers that CPU inference keeps between calls.

        Inference reuses, from one call to the next, a buffer as large as the biggest batched
        wavelet product and one as large as the biggest modulus (about 250 MB for 16 signals of
        65536 samples, J=10, Q=8): fresh ones cost more in page faults than the products on CPU.
        """
        for engine in self._engines.values():
            engine.release_workspace()
