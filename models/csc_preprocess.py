"""Image preprocessing for convolutional sparse coding: the Tikhonov low-pass / high-pass split.

CSC dictionaries of small filters represent the high frequencies of an image; the smooth part
is removed first and added back after reconstruction (Wohlberg 2016, Sec. VI).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .._validation import check_float, check_int

__all__ = ["tikhonov_split"]


def _symmetric_index(n: int, pad: int) -> np.ndarray:
    """Indices of a length-``n`` axis padded by ``pad`` on both sides with mirrored edges
    (edge sample repeated, NumPy's ``'symmetric'``), valid for any ``pad``."""
    idx = np.arange(-pad, n + pad)
    period = 2 * n
    idx = np.mod(idx, period)
    return np.where(idx < n, idx, period - 1 - idx)


def tikhonov_split(images: Tensor, lmbda: float, pad: int = 16) -> tuple[Tensor, Tensor]:
    r"""Split images into a smooth part and its residual by Tikhonov regularisation.

    The low-pass part solves
    :math:`\min_x \tfrac12\|x - s\|^2 + \tfrac{\lambda}{2}(\|g_r * x\|^2 + \|g_c * x\|^2)` with
    forward differences :math:`g_r, g_c`, i.e.
    :math:`\hat x = \hat s / (1 + \lambda(|\hat g_r|^2 + |\hat g_c|^2))`, computed on the image
    padded by ``pad`` mirrored pixels on every side (to limit wrap-around) and cropped back.
    The same filter as ``sporco.signal.tikhonov_filter(s, lmbda, npd=pad)`` (reimplemented from
    its definition).

    Parameters
    ----------
    images : Tensor, shape (..., H, W), float32 or float64
        Images (any leading batch/channel dimensions, any device).
    lmbda : float
        Regularisation weight λ > 0; larger is smoother (λ = 10 in Wohlberg's examples).
    pad : int
        Mirrored padding in pixels on each side (≥ 0).

    Returns
    -------
    low, high : Tensor, each of the shape and dtype of ``images``, with ``low + high == images``.

    Examples
    --------
    >>> import torch
    >>> from scatter import models
    >>> images = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    >>> low, high = models.tikhonov_split(images, lmbda=10.0)
    >>> high.shape, torch.allclose(low + high, images)
    (torch.Size([2, 1, 32, 32]), True)
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor of shape (..., H, W), "
                        f"got {type(images).__name__}")
    if images.ndim < 2:
        raise ValueError(f"images must have shape (..., H, W), got {tuple(images.shape)}")
    if images.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"images must be float32 or float64, got {images.dtype}")
    lmbda = check_float("lmbda", lmbda, positive=True)
    pad = check_int("pad", pad, minimum=0)
    if not bool(torch.isfinite(images).all()):
        raise ValueError("images contains NaN or inf values")
    H, W = images.shape[-2:]
    iy = torch.as_tensor(_symmetric_index(H, pad), device=images.device)
    ix = torch.as_tensor(_symmetric_index(W, pad), device=images.device)
    padded = images.index_select(-2, iy).index_select(-1, ix)
    Hp, Wp = padded.shape[-2:]
    # |DFT of [-1, 1]|² = 2 − 2 cos ω along each axis (float64 design, cast once)
    wy = 2.0 - 2.0 * np.cos(2 * np.pi * np.fft.fftfreq(Hp))
    wx = 2.0 - 2.0 * np.cos(2 * np.pi * np.fft.rfftfreq(Wp))
    denom = torch.as_tensor(1.0 + lmbda * (wy[:, None] + wx[None, :]), dtype=images.dtype,
                            device=images.device)
    low = torch.fft.irfft2(torch.fft.rfft2(padded) / denom, s=(Hp, Wp))
    low = low[..., pad:pad + H, pad:pad + W]
    return low, images - low
