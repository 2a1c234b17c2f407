"""Differentiable scattering transforms in PyTorch, fed by any filter bank from :mod:`filters`."""

__version__ = "0.1.0"
