"""The handful of operations a scattering cascade needs, in plain, device-generic torch.

Differentiable, traceable by ``torch.compile`` (no host syncs, no in-place writes into inputs) and
the same on every device. The conventions are Kymatio 0.3's (Andreux et al., JMLR 2020): Fourier
filters on the unshifted DFT grid, subsampling in the Fourier domain as the mean of the aliases.
"""
from __future__ import annotations

import torch


def reflect_pad(x: torch.Tensor, indices: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Pad the last ``len(indices)`` axes by gathering along each (reflection padding).

    Parameters
    ----------
    x : Tensor, shape (..., *grid)
    indices : tuple of int64 Tensor
        For each trailing axis, the input index of every padded sample
        (:func:`scatter._base.reflect_indices`).

    Returns
    -------
    Tensor, shape (..., *padded_grid)
    """
    for axis, index in zip(range(-len(indices), 0), indices):
        x = x.index_select(axis, index)
    return x


def fft(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """DFT over the last ``ndim`` axes (complex output; a real input is promoted)."""
    return torch.fft.fftn(x, dim=tuple(range(-ndim, 0)))


def ifft(z: torch.Tensor, ndim: int) -> torch.Tensor:
    """Inverse DFT over the last ``ndim`` axes (with its ``1 / n``)."""
    return torch.fft.ifftn(z, dim=tuple(range(-ndim, 0)))


def subsample_fourier(z: torch.Tensor, factor: int, ndim: int) -> torch.Tensor:
    """The spectrum of ``ifft(z)`` subsampled by ``factor`` on each of the last ``ndim`` axes.

    Subsampling in space by ``k`` replaces a spectrum of length ``n`` by the mean of its ``k``
    aliases (blocks of ``n / k`` bins).

    Parameters
    ----------
    z : Tensor, complex, shape (..., *grid), every side divisible by ``factor``

    Returns
    -------
    Tensor, complex, shape (..., *(side // factor for side in grid))
    """
    if factor == 1:
        return z
    # sums of block views of the real pairs: on the CPU, torch's complex reductions over
    # strided axes are tens of times slower than these real additions
    pairs = torch.view_as_real(z)
    for axis in range(-ndim - 1, -1):
        blocks = pairs.unflatten(axis, (factor, pairs.shape[axis] // factor))
        pairs = blocks.sum(axis - 1)
    return torch.view_as_complex(pairs * (1.0 / factor ** ndim))


def modulus(z: torch.Tensor) -> torch.Tensor:
    """``|z|``, as the norm of the real pairs ``(re, im)``: on the CPU many times faster than
    ``z.abs()``; its gradient at ``z = 0`` is 0 too, not NaN."""
    return torch.linalg.vector_norm(torch.view_as_real(z), dim=-1)


def crop_fourier(filters: torch.Tensor, factor: int) -> torch.Tensor:
    """The low-frequency block ``|k| < n / (2 factor)`` of Fourier filters ``(..., M, N)``: the
    torch twin of :func:`scatter._design.crop_fourier`, for filters made in torch (learnable
    wavelets), differentiable."""
    if factor == 1:
        return filters
    out = filters
    for axis in (-2, -1):
        n = filters.shape[axis]
        half = n // (2 * factor)
        keep = torch.cat([torch.arange(half), torch.arange(n - half, n)]).to(filters.device)
        out = out.index_select(axis % out.ndim, keep)
    return out
