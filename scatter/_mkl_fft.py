"""Batched complex FFTs in place, through the MKL that torch's x86-64 CPU builds carry.

torch's FFTs always return a fresh tensor (their ``out=`` variants go through a temporary): for
the networks' work buffers that is a second copy of the largest intermediate and its page
faults. SciPy's pocketfft transforms in place, but on Intel CPUs it runs 2-3x slower than MKL
on the networks' shapes (benchmarks/RESULTS.md, 2026-12-07). torch's x86-64 wheels link MKL
statically and export its DFTI C interface, so the same MKL code torch would run can transform
a buffer in place: :func:`fft_in_place` and :func:`ifft_in_place` here.

Only complex transforms without scaling are offered (the forward one is torch's default, the
inverse one torch's ``norm='forward'``): setting a scale would pass a float through DFTI's
variadic ``DftiSetValue``, which ``ctypes`` does not promise to do right; callers fold ``1/n``
into their filters instead.

Descriptors (MKL's committed plans) are made per thread and per (dtype, batch, lengths) and
kept, least recently used first out, in a per-thread cache that frees them when evicted or
when its thread ends. The interface is checked once against ``torch.fft`` on small arrays; where
a symbol is missing (other builds: ARM, macOS), the check fails, or the environment sets
``SCATTER_MKL_FFT=0``, both functions return ``False`` and callers transform another way.

Constants from Intel's ``mkl_dfti.h`` (``MKL_LONG`` is C ``long`` in the LP64 interface that the
exported symbols use).
"""
from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
import warnings
from collections import OrderedDict

import torch

from . import _native

_DFTI_COMPLEX = 32
_DFTI_NUMBER_OF_TRANSFORMS = 7
_DFTI_PLACEMENT = 11
_DFTI_INPUT_DISTANCE = 14
_DFTI_OUTPUT_DISTANCE = 15
_DFTI_INPLACE = 43

# descriptors kept per thread: a network uses about one per FFT shape and chunk size
_PLANS_PER_THREAD = 48


class _Dfti:
    """The DFTI entry points, typed for ``ctypes``."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        handle_p = ctypes.POINTER(ctypes.c_void_p)
        self.create = {}
        for dtype, symbol in ((torch.complex64, "DftiCreateDescriptor_s_md"),
                              (torch.complex128, "DftiCreateDescriptor_d_md")):
            fn = getattr(lib, symbol)
            fn.argtypes = [handle_p, ctypes.c_int, ctypes.c_long, ctypes.POINTER(ctypes.c_long)]
            fn.restype = ctypes.c_long
            self.create[dtype] = fn
        self.set_value = lib.DftiSetValue            # variadic: arguments typed per call
        self.set_value.restype = ctypes.c_long
        self.commit = lib.DftiCommitDescriptor
        self.commit.argtypes, self.commit.restype = [ctypes.c_void_p], ctypes.c_long
        self.forward = lib.DftiComputeForward       # variadic; in place it takes one buffer
        self.forward.restype = ctypes.c_long
        self.backward = lib.DftiComputeBackward
        self.backward.restype = ctypes.c_long
        self.free = lib.DftiFreeDescriptor
        self.free.argtypes, self.free.restype = [handle_p], ctypes.c_long
        self.message = lib.DftiErrorMessage
        self.message.argtypes, self.message.restype = [ctypes.c_long], ctypes.c_char_p

    def check(self, status: int, what: str) -> None:
        if status:
            raise RuntimeError(f"MKL DFTI {what} failed: {self.message(status).decode(errors='replace')}")

    def plan(self, dtype: torch.dtype, batch: int, lengths: tuple[int, ...]) -> ctypes.c_void_p:
        """A committed in-place descriptor for ``batch`` contiguous arrays."""
        handle = ctypes.c_void_p()
        dims = (ctypes.c_long * len(lengths))(*lengths)
        self.check(self.create[dtype](ctypes.byref(handle), _DFTI_COMPLEX, len(lengths), dims), "create")
        try:
            size = math.prod(lengths)
            for param, value in ((_DFTI_NUMBER_OF_TRANSFORMS, ctypes.c_long(batch)),
                                 (_DFTI_INPUT_DISTANCE, ctypes.c_long(size)),
                                 (_DFTI_OUTPUT_DISTANCE, ctypes.c_long(size)),
                                 (_DFTI_PLACEMENT, ctypes.c_int(_DFTI_INPLACE))):
                self.check(self.set_value(handle, ctypes.c_int(param), value), "set value")
            self.check(self.commit(handle), "commit")
        except RuntimeError:
            self.free(ctypes.byref(handle))
            raise
        return handle


class _Plans:
    """One thread's descriptors, least recently used evicted; all freed with the cache."""

    def __init__(self, api: _Dfti) -> None:
        self._api = api
        self._plans: OrderedDict = OrderedDict()

    def get(self, key: tuple) -> ctypes.c_void_p:
        handle = self._plans.get(key)
        if handle is None:
            handle = self._plans[key] = self._api.plan(*key)
            while len(self._plans) > _PLANS_PER_THREAD:
                _, old = self._plans.popitem(last=False)
                self._api.free(ctypes.byref(old))
        else:
            self._plans.move_to_end(key)
        return handle

    def __len__(self) -> int:
        return len(self._plans)

    def __del__(self) -> None:  # the thread ended (its thread-local data is dropped)
        try:
            for handle in self._plans.values():
                self._api.free(ctypes.byref(handle))
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn ctypes down
            pass
        self._plans.clear()


_local = threading.local()


def _plans(api: _Dfti) -> _Plans:
    plans = getattr(_local, "plans", None)
    if plans is None:
        plans = _local.plans = _Plans(api)
    return plans


@functools.lru_cache(maxsize=1)
def _interface() -> _Dfti | None:
    """The checked DFTI interface, or ``None`` where it is absent, disabled or wrong."""
    if os.environ.get("SCATTER_MKL_FFT", "1") == "0":
        return None
    lib = _native.torch_cpu_library()
    try:
        api = _Dfti(lib) if lib is not None else None
    except AttributeError:        # a torch build without MKL
        return None
    if api is None:
        return None
    # one check against torch.fft per precision, rank and direction before trusting the ABI
    gen = torch.Generator().manual_seed(0)
    try:
        for dtype, shape in ((torch.complex64, (3, 4, 6)), (torch.complex128, (2, 10))):
            for forward, reference in ((True, torch.fft.fftn), (False, torch.fft.ifftn)):
                z = torch.randn(shape, dtype=dtype, generator=gen)
                expected = reference(z, dim=tuple(range(1, len(shape))), norm="backward" if forward else "forward")
                _run(api, z, len(shape) - 1, forward)
                if not torch.allclose(z, expected, rtol=1e-5, atol=1e-5):
                    raise RuntimeError("results differ from torch.fft")
    except RuntimeError as err:
        warnings.warn(f"scatter: MKL's in-place FFT is not used ({err}); falling back to SciPy",
                      RuntimeWarning, stacklevel=2)
        return None
    return api


def _run(api: _Dfti, z: torch.Tensor, ndim: int, forward: bool) -> None:
    lengths = tuple(z.shape[-ndim:])
    handle = _plans(api).get((z.dtype, z.numel() // math.prod(lengths), lengths))
    compute = api.forward if forward else api.backward
    api.check(compute(handle, ctypes.c_void_p(z.data_ptr())), "compute")


def available() -> bool:
    """Whether :func:`fft_in_place` and :func:`ifft_in_place` can run here."""
    return _interface() is not None


def _transform(z: torch.Tensor, ndim: int, forward: bool) -> bool:
    if not (z.device.type == "cpu" and z.dtype in (torch.complex64, torch.complex128)
            and z.is_contiguous() and not z.is_conj() and not z.requires_grad
            and z.numel() > 0 and 1 <= ndim <= min(3, z.ndim)):
        return False
    api = _interface()
    if api is None:
        return False
    _run(api, z, ndim, forward)
    return True


def fft_in_place(z: torch.Tensor, ndim: int) -> bool:
    """FFT over the last ``ndim`` axes of ``z``, written over ``z``.

    ``torch.fft.fftn(z, dim=last ndim axes)``, the same MKL computation, without the fresh
    output. Parameters and return value as in :func:`ifft_in_place`.
    """
    return _transform(z, ndim, forward=True)


def ifft_in_place(z: torch.Tensor, ndim: int) -> bool:
    """Unscaled inverse FFT over the last ``ndim`` axes of ``z``, written over ``z``.

    ``torch.fft.ifftn(z, dim=last ndim axes, norm='forward')``, bit for bit the same MKL
    computation, without the fresh output.

    Parameters
    ----------
    z : Tensor, complex64 or complex128, shape (..., *grid) with ``len(grid) == ndim``
        On the CPU, contiguous, not a conjugate view, not requiring grad.
    ndim : int, 1 to 3

    Returns
    -------
    bool
        ``True`` if ``z`` was transformed; ``False`` (``z`` untouched) where MKL is not
        available or ``z`` does not qualify: the caller transforms another way.
    """
    return _transform(z, ndim, forward=False)
