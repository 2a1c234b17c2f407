"""The input policy of the filter-side transforms (curvelets, DWT/IDWT), shared with the networks.

Inputs are tensors of float32 or float64 and the computation follows their dtype; half precision,
integers, booleans (and complex numbers, unless a transform says otherwise) are refused with a
``TypeError``; NaN or inf raise a ``ValueError`` unless the module was built with
``check_input=False``.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

REAL_DTYPES = (torch.float32, torch.float64)
COMPLEX_DTYPES = (torch.complex64, torch.complex128)


def _names(dtypes: Sequence[torch.dtype]) -> str:
    names = [str(d).replace("torch.", "") for d in dtypes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def check_tensor(x, name: str, accepted: Sequence[torch.dtype] = REAL_DTYPES,
                 note: str = "") -> torch.Tensor:
    """Raise unless ``x`` is a tensor of one of the ``accepted`` dtypes; return it.

    The ``TypeError`` names the parameter, the dtype received and the accepted ones (and
    ``note``, a reason for the choice, in parentheses).
    """
    if not isinstance(x, torch.Tensor):
        hint = " (convert a NumPy array with torch.from_numpy)" if isinstance(x, np.ndarray) else ""
        raise TypeError(f"{name} must be a torch.Tensor{hint}, got {type(x).__name__}")
    if x.dtype not in accepted:
        hint = ""
        if x.dtype in (torch.float16, torch.bfloat16, torch.complex32):
            # torch's CPU FFTs have no half precision, and a float16 result would not match the
            # float64 design to the precision the library promises: convert explicitly instead
            hint = " (half precision is not supported: convert with .float())"
        note = f" ({note})" if note else ""
        raise TypeError(f"{name} must have a floating-point dtype, {_names(accepted)}{note}; "
                        f"got {x.dtype}{hint}")
    return x


def check_finite(tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Raise a ``ValueError`` naming the first of the named ``tensors`` holding NaN or inf.

    One device-to-host synchronisation for all of them when they share a device (the modules
    skip the check with ``check_input=False``).
    """
    items = list(tensors)
    if not items:
        return
    devices = {t.device for _, t in items}
    # fast path: NaN and inf propagate into a sum (one read of each tensor, where isfinite().all()
    # takes several passes); a non-finite sum may also be an overflow of finite values, so the
    # exact per-element check below decides then
    sums = [torch.isfinite(t.detach().sum()) for _, t in items]
    if len(devices) == 1 and bool(torch.stack(sums).all()):
        return
    flags = [torch.isfinite(t).all() for _, t in items]
    if len(devices) == 1:
        if bool(torch.stack(flags).all()):
            return
        flags = torch.stack(flags).tolist()
    for (name, _), ok in zip(items, flags):
        if not bool(ok):
            raise ValueError(f"{name} contains NaN or inf values (check_input=False skips this "
                             f"check)")
