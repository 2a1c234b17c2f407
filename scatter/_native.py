"""torch's CPU library, opened once, for the few native calls the networks make through it.

Platforms and fast paths
------------------------
Two CPU fast paths call into torch's own ``libtorch_cpu.so`` through ``ctypes``; both are
**Linux-only**:

* **In-place MKL FFTs** (:mod:`scatter._mkl_fft`): Linux x86-64 torch wheels, which link Intel
  MKL statically and export its DFTI interface. Linux builds without MKL (aarch64, some source
  builds) and ``SCATTER_MKL_FFT=0`` turn it off.
* **Single-threaded chunk workers** (:mod:`scatter._parallel`): chunks of a batch on worker
  threads with one intra-op thread each, set per thread through torch's OpenMP runtime
  (``omp_set_num_threads``). Linux builds whose library exports it; used for CPU inference
  without autograd when ``torch.get_num_threads() > 1``.

On macOS and Windows (whose libraries are ``.dylib``/``.dll`` files that are not looked for) and
wherever a path is off, the networks take the plain path: torch's FFTs or SciPy's pocketfft, and
a batch's chunks one after the other with torch's own intra-op threads. The coefficients are the
same up to floating-point rounding (another FFT library); only speed differs.
:func:`fast_paths` tells which paths are on.
"""
from __future__ import annotations

import ctypes
import functools
import os
import sys

import torch


@functools.lru_cache(maxsize=1)
def torch_cpu_library() -> ctypes.CDLL | None:
    """``libtorch_cpu`` as a ``ctypes`` library, or ``None`` where it cannot be opened.

    ``dlsym`` on its handle searches its dependencies too, so a symbol resolves as torch itself
    resolves it: ``omp_set_num_threads`` is the OpenMP runtime torch runs on (other packages
    may have loaded their own copy), and in builds that link Intel MKL statically (the x86-64
    wheels) MKL's C interface is found there.

    ``None`` on every platform but Linux: the fast paths that use it are only built and tested
    there (see the module's docstring).
    """
    if not sys.platform.startswith("linux"):
        return None
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    if not os.path.exists(path):
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def fast_paths() -> dict[str, bool]:
    """Which CPU fast paths are active in this process.

    Returns
    -------
    dict of str to bool
        ``"mkl_fft"``: in-place FFTs through torch's MKL; ``"chunk_workers"``: batch chunks on
        single-threaded worker threads (used when ``torch.get_num_threads() > 1``). Both are
        ``False`` off Linux; the networks then compute the same coefficients more slowly.

    Examples
    --------
    >>> from scatter._native import fast_paths
    >>> sorted(fast_paths())
    ['chunk_workers', 'mkl_fft']
    """
    from . import _mkl_fft, _parallel   # they import this module

    return {"mkl_fft": _mkl_fft.available(), "chunk_workers": _parallel.available()}
