"""Filters as module buffers that are always converted from their float64 design."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class FilterBuffers(nn.Module):
    """Base module holding Fourier filters as buffers converted from float64 designs.

    ``Module.double()``/``.to(dtype)`` would convert a float32 buffer by upcasting it, keeping
    float32 rounding (1e-7) inside a float64 network; here every conversion starts from the float64
    design. Complex filters are stored as a trailing (real, imag) axis because ``Module.double()``
    converts only real floating-point buffers; :meth:`_filter` views them as complex again.
    """

    def __init__(self) -> None:
        super().__init__()
        self._designs: dict[str, np.ndarray] = {}
        self._complex_filters: set[str] = set()

    def _add_filter(self, name: str, design: np.ndarray) -> None:
        """Register ``design`` (float64 or complex128 ndarray) as a float32 buffer ``name``."""
        stored, is_complex = as_stored_design(design)
        self._register_design(name, stored, is_complex, torch.from_numpy(stored).to(torch.float32))

    def _register_design(self, name: str, stored: np.ndarray, is_complex: bool,
                         tensor: torch.Tensor) -> None:
        """Register a design already in stored form (see :func:`as_stored_design`) and its tensor.

        ``tensor`` may be shared between networks (they never write to their filters)."""
        if is_complex:
            self._complex_filters.add(name)
        self._designs[name] = stored
        self.register_buffer(name, tensor, persistent=False)

    def _filter(self, name: str) -> torch.Tensor:
        """The buffer ``name`` as used in products: real, or complex for complex designs."""
        t = getattr(self, name)
        return torch.view_as_complex(t) if name in self._complex_filters else t

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        for name, design in self._designs.items():
            current = self._buffers[name]
            self._buffers[name] = torch.from_numpy(design).to(device=current.device, dtype=current.dtype)
        return self


def as_stored_design(design: np.ndarray) -> tuple[np.ndarray, bool]:
    """A float64 design as stored by :class:`FilterBuffers`: complex as a trailing (re, im) axis."""
    design = np.ascontiguousarray(design)
    if np.iscomplexobj(design):
        return np.ascontiguousarray(np.stack([design.real, design.imag], axis=-1)), True
    return design, False
