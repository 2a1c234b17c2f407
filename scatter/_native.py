"""torch's CPU library, opened once, for the few native calls the networks make through it."""
from __future__ import annotations

import ctypes
import functools
import os

import torch


@functools.lru_cache(maxsize=1)
def torch_cpu_library() -> ctypes.CDLL | None:
    """``libtorch_cpu`` as a ``ctypes`` library, or ``None`` where it cannot be opened.

    ``dlsym`` on its handle searches its dependencies too, so a symbol resolves as torch itself
    resolves it: ``omp_set_num_threads`` is the OpenMP runtime torch runs on (other packages
    may have loaded their own copy), and in builds that link Intel MKL statically (the x86-64
    wheels) MKL's C interface is found there.
    """
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    if not os.path.exists(path):
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None
