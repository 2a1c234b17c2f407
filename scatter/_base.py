"""What every scattering network shares: parameters, banks, inputs, devices, dtypes, outputs.

A network (:class:`scatter.Scattering1D`, :class:`scatter.Scattering2D`, ...) subclasses
:class:`ScatteringBase` and supplies its parameters' checks, how it prepares filters from a bank
(float64 NumPy designs, converted once per dtype) and its plain cascade (:mod:`scatter.core`);
optionally a CPU inference engine (:mod:`scatter.engine`). The base decides, in one place
(:meth:`ScatteringBase._use_engine`), which of the two computes a call.

Policies, the same for every network:

- **Parameters** keep Kymatio's names and are plain attributes. Assigning one after construction
  re-checks every parameter and rebuilds what depends on it at once: the next call uses the new
  value, an invalid value raises at assignment (and the network keeps its previous state).
- **Inputs** are ``torch.Tensor`` or ``numpy.ndarray`` of real floating point, float32 or float64,
  shaped ``(..., *grid)``. The computation and the output follow the input's dtype (filters are
  held in both precisions, each converted from the float64 design); NumPy in gives NumPy out.
  Other dtypes raise :class:`ScatteringTypeError` (a ``TypeError`` and, as in Kymatio, a
  ``RuntimeError``); half precision is refused, also at conversion (``.half()``), since torch's
  FFTs on the CPU do not support it.
- **NaN/inf**: with ``check_input=True`` (the default) they raise ``ValueError``; the check is
  one device-to-host sync, skipped with ``check_input=False`` and inside ``torch.compile``
  graphs (which cannot sync without a graph break), where NaN propagates to the output.
- **Shapes**: where Kymatio raises ``RuntimeError`` (wrong spatial size, too few dimensions,
  ``J`` too large for the grid) a :class:`ScatteringShapeError` is raised, which is both a
  ``ValueError`` and a ``RuntimeError`` (for other values, :class:`ScatteringError`). An empty batch gives an empty output of the right shape.
- **Devices**: the network's filters live on one device (``.to()``, ``.cuda()``); inputs must be on
  it.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .filters import FilterBank

# the dtypes a network computes in, and the key of its filters in each
_PRECISIONS = {torch.float32: "float32", torch.float64: "float64"}


class ScatteringError(ValueError, RuntimeError):
    """An input or option a network refuses where Kymatio 0.3 raises ``RuntimeError``.

    Both a ``ValueError`` (the usual Python convention for a bad value) and a ``RuntimeError``
    (what a Kymatio user's ``except`` clause catches), e.g. an unknown 2D ``out_type``.

    Parameters
    ----------
    message : str
        What is wrong, and the accepted values.

    Examples
    --------
    >>> from scatter import Scattering2D, ScatteringError
    >>> try:
    ...     Scattering2D(J=2, shape=(32, 32), out_type="dict")
    ... except RuntimeError as error:
    ...     print(isinstance(error, ValueError), isinstance(error, ScatteringError))
    True True
    """

    def __init__(self, message: str) -> None:
        # not super(): torch.compile cannot trace super().__init__ of a multiply derived exception
        Exception.__init__(self, message)


class ScatteringShapeError(ScatteringError):
    """An input or parameter that does not fit the network's shape.

    Raised where Kymatio 0.3 raises ``RuntimeError`` (wrong spatial size, too few dimensions,
    ``J`` too large for the grid), so that both ``except RuntimeError`` (Kymatio code) and
    ``except ValueError`` catch it.

    Parameters
    ----------
    message : str
        What does not fit, and the accepted values.

    Examples
    --------
    >>> import torch
    >>> from scatter import Scattering2D, ScatteringShapeError
    >>> S = Scattering2D(J=2, shape=(32, 32))
    >>> try:
    ...     S(torch.zeros(1, 16, 16))
    ... except RuntimeError as error:
    ...     print(isinstance(error, ValueError), isinstance(error, ScatteringShapeError))
    True True
    """


class ScatteringTypeError(TypeError, RuntimeError):
    """Input of a dtype the networks do not compute in (integer, complex, half precision).

    A ``TypeError``, and a ``RuntimeError`` because that is what Kymatio 0.3 raises for integer
    or complex input (from torch's internals).

    Parameters
    ----------
    message : str
        The dtype given and the accepted ones.

    Examples
    --------
    >>> import torch
    >>> from scatter import Scattering1D, ScatteringTypeError
    >>> S = Scattering1D(J=4, shape=256)
    >>> try:
    ...     S(torch.ones(256, dtype=torch.int64))
    ... except RuntimeError as error:
    ...     print(isinstance(error, TypeError), isinstance(error, ScatteringTypeError))
    True True
    """

    def __init__(self, message: str) -> None:
        # not super(): torch.compile cannot trace super().__init__ of a multiply derived exception
        Exception.__init__(self, message)


def check_backend(backend) -> None:
    """Accept Kymatio's ``backend`` values that mean "torch"; raise ``ImportError`` otherwise."""
    if backend is None or (isinstance(backend, str) and backend == "torch"):
        return
    name = getattr(backend, "name", backend)
    raise ImportError(f"backend {name!r} is not supported: scatter's networks run on PyTorch only "
                      f"(backend=None or 'torch'); for NumPy input, pass the array to the network "
                      f"(NumPy in, NumPy out)")


def to_tensor(x, device: torch.device, ndim: int, name: str = "x") -> tuple[torch.Tensor, bool]:
    """Check a batch of signals and return it as a real tensor on ``device``.

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray, shape (..., *grid) with ``len(grid) == ndim``
        Real float32 or float64 values; the dtype is kept.
    device : torch.device
        The network's device; a tensor must be on it (a NumPy array is moved there).
    ndim : int
        Number of trailing grid dimensions.

    Returns
    -------
    tensor : torch.Tensor
    from_numpy : bool
        Whether the input was a NumPy array (the caller returns NumPy then).
    """
    from_numpy = isinstance(x, np.ndarray)
    if from_numpy:
        if x.dtype not in (np.float32, np.float64):
            raise ScatteringTypeError(f"{name} must hold real floating-point values (float32 or float64), "
                            f"got a NumPy array of dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x)).to(device)
    elif not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in _PRECISIONS:
        raise ScatteringTypeError(f"{name} must be a real floating-point tensor (float32 or float64), got {x.dtype}"
                        + (" (half precision is not supported: torch's CPU FFTs lack it)"
                           if x.dtype in (torch.float16, torch.bfloat16) else ""))
    if x.device != device:
        raise ValueError(f"{name} is on {x.device} but the scattering filters are on {device}: "
                         f"move the module with S.to({str(x.device)!r}) or the input")
    if x.ndim < ndim:
        axes = "(..., M, N)" if ndim == 2 else "(..., " + ", ".join("DMN"[-ndim:] if ndim == 3 else "N") + ")"
        raise ScatteringShapeError(f"{name} must have at least {ndim} dimension(s) {axes}, got shape "
                                   f"{tuple(x.shape)}")
    return x, from_numpy


def check_finite(x: torch.Tensor, name: str = "x") -> None:
    """Raise if ``x`` holds NaN or inf (one device-to-host sync)."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values (pass check_input=False to skip this "
                         f"check)")


def to_output(x: torch.Tensor, from_numpy: bool):
    """NumPy when the input was NumPy."""
    return x.detach().cpu().numpy() if from_numpy else x


def reflect_indices(size: int, before: int, after: int) -> torch.Tensor:
    """Indices that pad an axis of length ``size`` by reflection (NumPy's ``mode='reflect'``).

    Works for pads longer than the axis (reflecting repeatedly), which ``torch.nn.functional.pad``
    refuses; padding is then one ``index_select`` per axis.
    """
    idx = np.pad(np.arange(size), (before, after), mode="reflect") if size > 1 else \
        np.zeros(size + before + after, dtype=np.int64)
    return torch.from_numpy(idx.astype(np.int64))


def check_bank(bank, grid: tuple[int, ...], needs: str, j_max: int, j_range: str) -> np.ndarray:
    """Check what every scattering network needs of a bank; return its ``meta['j']``.

    Parameters
    ----------
    bank : scatter.filters.FilterBank
    grid : tuple of int
        The (padded) grid the network computes on; the bank must be sampled there.
    needs : str
        How the error names that grid and how to get it.
    j_max : int
        Largest accepted scale index; ``j_range`` says the same in words for the error.
    """
    if not isinstance(bank, FilterBank):
        raise TypeError(f"bank must be a scatter.filters.FilterBank or a callable returning one, "
                        f"got {type(bank).__name__}")
    if bank.shape != tuple(grid):
        raise ValueError(f"bank is sampled on a grid of shape {bank.shape}, but this network needs "
                         f"{needs}; pass a callable bank to have it built there")
    if bank.phi is None:
        raise ValueError("bank has no low-pass filter phi; scattering needs one")
    if "j" not in bank.meta:
        raise ValueError("bank.meta must give an integer scale 'j' for every filter")
    js = np.asarray(bank.meta["j"])
    if not np.issubdtype(js.dtype, np.integer) or js.min() < 0 or js.max() > j_max:
        raise ValueError(f"bank.meta['j'] must hold integers in {j_range}, got {sorted(set(js.tolist()))}")
    return js


def map_tensors(obj, fn: Callable[[torch.Tensor], torch.Tensor]):
    """``obj`` with ``fn`` applied to every tensor in it (through dataclasses, tuples, lists,
    dicts); other values are kept."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: map_tensors(getattr(obj, f.name), fn)
                                           for f in dataclasses.fields(obj)})
    if isinstance(obj, (tuple, list)):
        return type(obj)(map_tensors(v, fn) for v in obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    return obj


def as_tensor(design: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A float64 (or complex128) design as a tensor of ``dtype`` (or its complex counterpart)."""
    design = np.ascontiguousarray(design)
    # torch warns about (and cannot protect) read-only arrays, as bank filters are
    t = torch.from_numpy(design if design.flags.writeable else design.copy())
    target = dtype.to_complex() if t.is_complex() else dtype
    return t.to(device=device, dtype=target)


class ScatteringBase(nn.Module):
    """Base of the scattering networks (see the module docstring for the shared policies).

    Subclasses define:

    - ``_PARAMS``: the names of their constructor parameters (assigning one reconfigures);
    - ``_ndim``: the number of grid dimensions;
    - ``_check_params()``: a dict of every parameter, checked and normalised;
    - ``_build(params)``: a dict of the attributes that depend on the parameters, among them
      ``_plan`` (the float64 designs and the structure of the cascade): no state is written
      before it returns;
    - ``_build_key(params)``: the parameters ``_build`` depends on (others are only checked);
    - ``_prepare(plan, dtype, device)``: the filters of the plain cascade in ``dtype`` on
      ``device``;
    - ``_grid_of_input()``: the expected trailing shape of inputs;
    - ``_cascade(x, filters)``: the plain cascade of a batch ``(B, *grid)``;
    - ``_make_engine(dtype)`` (optional): a CPU inference engine with ``run(x, check_input)``;
    - ``_format(coefs, lead, from_numpy)``: the output in ``out_type``.
    """

    _PARAMS: tuple[str, ...] = ()
    _ndim: int = 0

    def __init__(self) -> None:
        super().__init__()
        self._configured = False
        self._device = torch.device("cpu")
        self._key = None
        self._filters: dict[str, Any] = {}
        self._eager = {"float32"}          # precisions whose plain-cascade filters are kept ready
        self._engines: dict[str, Any] = {}
        self._engine_lock = threading.Lock()

    # ---------------------------------------------------------------------------- parameters
    def __setattr__(self, name: str, value) -> None:
        if name in type(self)._PARAMS and self.__dict__.get("_configured", False):
            missing = object()
            old = self.__dict__.get(name, missing)
            self.__dict__[name] = value
            try:
                self._configure()
            except BaseException:
                if old is missing:
                    del self.__dict__[name]
                else:
                    self.__dict__[name] = old
                raise
            return
        super().__setattr__(name, value)

    def _configure(self) -> None:
        """Check the parameters and (re)build what depends on them, all or nothing."""
        params = self._check_params()
        key = self._build_key(params)
        built = None
        if key != self._key:
            built = self._build(params)
            # float32 always (torch's default dtype, what torch.compile traces without a sync);
            # float64 too once the module was converted to it, else at its first use
            filters = {name: self._prepare(built["_plan"], dtype, self._device)
                       for dtype, name in _PRECISIONS.items() if name in self._eager}
        self.__dict__.update(params)
        if built is not None:
            self.__dict__.update(built)
            self._filters = filters
            self._engines = {}
            self._key = key
            if self._device.type == "cpu" and self._has_engine():
                # CPU inference in float32 is the common case: its filters are prepared with the
                # network's (as Kymatio's are), not during a first call; float64 ones lazily
                self._engine(torch.float32)
        self._configured = True

    # --------------------------------------------------------------------- devices and dtypes
    def _apply(self, fn, *args, **kwargs):
        probe = fn(torch.zeros(1, device=self._device))
        if probe.dtype in (torch.float16, torch.bfloat16):
            raise ScatteringTypeError(f"{type(self).__name__} does not support {probe.dtype}: torch's FFTs on "
                            f"the CPU lack half precision. It computes in its input's dtype, "
                            f"float32 or float64 (no conversion of the module is needed)")
        super()._apply(fn, *args, **kwargs)
        if probe.dtype in _PRECISIONS and _PRECISIONS[probe.dtype] not in self._eager:
            # .double() / .to(torch.float64): float64 filters ready for torch.compile
            self._eager.add(_PRECISIONS[probe.dtype])
            self._filters[_PRECISIONS[probe.dtype]] = self._prepare(self._plan, probe.dtype, self._device)

        def convert(t: torch.Tensor) -> torch.Tensor:
            # filters keep their precision (each set is converted from the float64 design);
            # everything else fn does (a device, shared memory) is kept
            new = fn(t)
            return new if new.dtype == t.dtype else t.to(new.device)

        self._filters = map_tensors(self._filters, convert)
        self._device = probe.device
        self._engines = {}         # CPU caches of the previous tensors
        return self

    @property
    def device(self) -> torch.device:
        """The device of the filters (inputs must be on it)."""
        return self._device

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_engines"] = {}     # caches with thread-local work buffers: rebuilt on demand
        state.pop("_engine_lock", None)
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._engine_lock = threading.Lock()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Accept the state dicts of Kymatio's networks: their filters are persistent buffers
        ``tensor0``, ``tensor1``, ... that ours recompute from the parameters (a model saved
        with Kymatio's network inside loads, strictly, into the same model built with ours)."""
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        kymatio_buffers = [key for key in unexpected_keys if key.startswith(prefix)
                           and key[len(prefix):].startswith("tensor") and key[len(prefix) + 6:].isdigit()]
        for key in kymatio_buffers:
            unexpected_keys.remove(key)

    # -------------------------------------------------------------------------------- compute
    def _use_engine(self, x: torch.Tensor) -> bool:
        """The one rule for which implementation computes a call: the CPU engine for CPU
        inference (no autograd through ``x``, not traced by ``torch.compile``, a non-empty batch)
        where the network has one; the plain cascade otherwise."""
        return (x.device.type == "cpu" and x.shape[0] > 0 and not torch.compiler.is_compiling()
                and not (torch.is_grad_enabled() and x.requires_grad) and self._has_engine())

    def _has_engine(self) -> bool:
        return type(self)._make_engine is not ScatteringBase._make_engine

    def _engine(self, dtype: torch.dtype):
        key = _PRECISIONS[dtype]
        engine = self._engines.get(key)
        if engine is None:
            with self._engine_lock:
                engine = self._engines.get(key)
                if engine is None:
                    engine = self._engines[key] = self._make_engine(dtype)
        return engine

    def _make_engine(self, dtype: torch.dtype):
        raise NotImplementedError

    def _plain_filters(self, dtype: torch.dtype):
        """The plain cascade's filters in ``dtype``, prepared at their first use (float64 ones
        are not kept by networks that never compute in float64 outside the CPU engine)."""
        key = _PRECISIONS[dtype]
        filters = self._filters.get(key)
        if filters is None:
            if torch.compiler.is_compiling():
                raise ScatteringTypeError(
                    f"{type(self).__name__} has no {key} filters ready inside torch.compile: call "
                    f"S.to(torch.{key}) (e.g. S.double()) before compiling for {key} input")
            with self._engine_lock:
                filters = self._filters.get(key)
                if filters is None:
                    filters = self._filters[key] = self._prepare(self._plan, dtype, self._device)
        return filters

    def forward(self, x):
        """Scattering coefficients of ``x`` (see the class docstring for shapes)."""
        x, from_numpy = to_tensor(x, self._device, self._ndim)
        grid = self._grid_of_input()
        if tuple(x.shape[-self._ndim:]) != tuple(grid):
            raise ScatteringShapeError(self._shape_message(tuple(x.shape[-self._ndim:])))
        lead = x.shape[:-self._ndim]
        x = x.reshape(-1, *grid)
        if self._use_engine(x):
            coefs = self._engine(x.dtype).run(x, self.check_input, self.batch_size)
        elif x.shape[0] == 0:
            # torch's FFTs refuse empty batches: the output's shapes from one zero input
            coefs = self._cascade(x.new_zeros((1, *grid)), self._plain_filters(x.dtype))
            coefs = coefs[:0] if isinstance(coefs, torch.Tensor) else [c[:0] for c in coefs]
        else:
            if self.check_input and not torch.compiler.is_compiling():
                check_finite(x)
            filters = self._plain_filters(x.dtype)
            if self.batch_size is None or x.shape[0] <= self.batch_size:
                coefs = self._cascade(x, filters)
            else:
                parts = [self._cascade(part, filters) for part in x.split(self.batch_size)]
                coefs = torch.cat(parts) if isinstance(parts[0], torch.Tensor) else \
                    [torch.cat(maps) for maps in zip(*parts)]
        return self._format(coefs, lead, from_numpy)

    def scattering(self, x):
        """The same as calling the network: Kymatio's name for the forward pass."""
        return self(x)

    def _shape_message(self, got: tuple) -> str:
        return f"x has spatial shape {got}, expected {tuple(self._grid_of_input())}"
