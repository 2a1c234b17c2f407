"""Multi-layer convolutional sparse coding (ML-CSC): the sparse-coding reading of a CNN.

Model (Papyan, Romano & Elad, "Convolutional neural networks analyzed via convolutional sparse
coding", JMLR 18, 2017): ``x ≈ D_1 γ_1``, ``γ_1 ≈ D_2 γ_2``, …, ``γ_{L−1} ≈ D_L γ_L`` with
non-negative sparse ``γ_i`` and convolutional ``D_i`` (``D_i γ = conv_transpose2d(γ, W_i)``,
``D_iᵀ z = conv2d(z, W_i)``). Layered soft thresholding with non-negativity,
``γ_i = ReLU(D_iᵀ γ_{i−1} + b_i)``, is exactly the forward pass of a CNN. ML-ISTA and ML-FISTA
(Sulam, Aberdam, Beck & Elad, "On multi-layer basis pursuit, efficient algorithms and
convolutional neural networks", IEEE TPAMI 42(8), 2020) refine it towards the multi-layer basis
pursuit

    min_{γ_L ≥ 0} ½‖x − D_1⋯D_L γ_L‖² + Σ_{i<L} λ_i ‖D_{i+1}⋯D_L γ_L‖₁ + λ_L ‖γ_L‖₁

by unfolding a fixed number of iterations, each a differentiable layer.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_choice, check_int

__all__ = ["MultiLayerCSC"]

_METHODS = ("thresholding", "layered_bp", "ista", "fista")


class MultiLayerCSC(nn.Module):
    r"""Multi-layer convolutional sparse coding as an ``nn.Module`` with ``n_unfoldings`` steps.

    Parameters
    ----------
    channels : sequence of int, length L + 1
        ``(C_0, C_1, …, C_L)``: image channels then the number of filters of each layer.
    kernel_sizes : int or sequence of int (length L)
        Square filter size of each layer.
    strides : int or sequence of int (length L)
        Stride of each layer's convolution.
    method : {'thresholding', 'layered_bp', 'ista', 'fista'}
        ``'thresholding'``: layered soft thresholding (the CNN; ``n_unfoldings`` is ignored).
        ``'layered_bp'``: layered basis pursuit, each layer's non-negative BP
        ``min_{γ_i ≥ 0} ½‖γ_{i−1} − D_i γ_i‖² + λ_i‖γ_i‖₁`` solved in turn by
        ``n_unfoldings`` FISTA steps started from the thresholding estimate.
        ``'ista'``/``'fista'``: ML-ISTA/ML-FISTA (Sulam et al. 2020, Algorithms 1-2) started from
        the thresholding estimate.
    n_unfoldings : int
        Number of iterations (0: the feed-forward CNN for every method).
    step_sizes : float or sequence of float, optional
        Gradient steps ``t_i`` of each layer; default ``1/‖D_i‖²`` estimated by power iteration
        at every forward pass (steps must not exceed that for the objective to decrease).
    nonnegative : bool
        Non-negative codes (ReLU, the CNN reading; default) or signed codes (two-sided soft
        threshold, the unconstrained multi-layer basis pursuit).

    Attributes
    ----------
    weights : nn.ParameterList
        ``W_i`` of shape ``(C_i, C_{i−1}, k_i, k_i)`` (conv2d layout; unit-norm filters at
        initialisation).
    biases : nn.ParameterList
        ``b_i`` of shape ``(C_i,)``; the thresholds are ``λ_i = −b_i`` (initialised to −0.1).

    Notes
    -----
    Thresholds and steps: the feed-forward pass is one ML-ISTA step of unit step from zero, so
    it thresholds at ``λ_i = −b_i``. In an unfolding, layer ``i`` thresholds at
    ``t_1⋯t_i λ_i``: its gradient is the previous layer's correction, already scaled by
    ``t_1⋯t_{i−1}``, so the deepest update is, to first order, a proximal-gradient step of size
    ``t_1⋯t_L`` on the objective below. With unit steps (normalised dictionaries) this is the
    update of Sulam et al.; with other steps it keeps the λ_i of :meth:`objective` consistent
    (without it the objective stops decreasing after a few iterations). The monotone decrease
    holds for signed codes (``nonnegative=False``); with ReLU the intermediate layers are also
    pushed towards ``D_{i+1}⋯D_L γ_L ≥ 0``, a constraint the objective does not contain.

    Examples
    --------
    >>> import torch
    >>> from scatter import models
    >>> net = models.MultiLayerCSC([1, 4, 8], kernel_sizes=3, strides=[1, 2],
    ...                            method="fista", n_unfoldings=3)
    >>> x = torch.randn(2, 1, 16, 16)
    >>> gamma = net(x)                                  # deepest code, (B, C_L, H_L, W_L)
    >>> gamma.shape
    torch.Size([2, 8, 6, 6])
    >>> [tuple(g.shape) for g in net(x, return_all=True)]
    [(2, 4, 14, 14), (2, 8, 6, 6)]
    >>> net.objective(x, gamma).shape                   # one value per sample
    torch.Size([2])
    """

    def __init__(self, channels: Sequence[int], kernel_sizes: int | Sequence[int] = 3,
                 strides: int | Sequence[int] = 1, method: str = "thresholding",
                 n_unfoldings: int = 0,
                 step_sizes: float | Sequence[float] | None = None,
                 nonnegative: bool = True) -> None:
        super().__init__()
        if not isinstance(nonnegative, bool):
            raise TypeError(f"nonnegative must be a bool, got {nonnegative!r}")
        self.nonnegative = nonnegative
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence):
            raise TypeError(f"channels must be a sequence of ints (C_0, ..., C_L), got {channels!r}")
        channels = [check_int(f"channels[{i}]", c, minimum=1) for i, c in enumerate(channels)]
        if len(channels) < 2:
            raise ValueError(f"channels must list at least 2 entries (C_0, C_1), got {channels}")
        n_layers = len(channels) - 1
        self.channels = tuple(channels)
        self.kernel_sizes = _per_layer("kernel_sizes", kernel_sizes, n_layers)
        self.strides = _per_layer("strides", strides, n_layers)
        self.method = check_choice("method", method, _METHODS)
        self.n_unfoldings = check_int("n_unfoldings", n_unfoldings, minimum=0)
        if step_sizes is not None:
            steps = ([step_sizes] * n_layers if isinstance(step_sizes, (int, float))
                     else list(step_sizes))
            if len(steps) != n_layers or not all(isinstance(t, (int, float)) and t > 0
                                                  and math.isfinite(t) for t in steps):
                raise ValueError(f"step_sizes must be a positive float or {n_layers} positive "
                                 f"floats, got {step_sizes!r}")
            step_sizes = tuple(float(t) for t in steps)
        self.step_sizes = step_sizes
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i in range(n_layers):
            w = torch.randn(channels[i + 1], channels[i], self.kernel_sizes[i], self.kernel_sizes[i])
            w /= torch.linalg.vector_norm(w.flatten(1), dim=1)[:, None, None, None]
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.full((channels[i + 1],), -0.1)))

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    # ------------------------------------------------------------------ operators
    def analysis(self, i: int, z: Tensor) -> Tensor:
        """``D_iᵀ z`` (conv2d), layer ``i`` counted from 0."""
        return F.conv2d(z, self.weights[i], stride=self.strides[i])

    def synthesis(self, i: int, gamma: Tensor, size: Sequence[int]) -> Tensor:
        """``D_i γ`` (conv_transpose2d, the exact adjoint of :meth:`analysis`) onto ``size``."""
        k, st = self.kernel_sizes[i], self.strides[i]
        h = (gamma.shape[-2] - 1) * st + k
        w = (gamma.shape[-1] - 1) * st + k
        return F.conv_transpose2d(gamma, self.weights[i], stride=st,
                                  output_padding=(size[-2] - h, size[-1] - w))

    def _threshold(self, i: int, z: Tensor, step: float | Tensor = 1.0) -> Tensor:
        # prox of step·λ_i‖·‖₁ (+ ι_{≥0}): ReLU(z − step·λ_i), λ_i = −b_i, or the two-sided
        # soft threshold z − clip(z, −step·λ_i, step·λ_i)
        b = step * self.biases[i][:, None, None]
        if self.nonnegative:
            return F.relu(z + b)
        return z - torch.minimum(torch.maximum(z, b), -b)

    def lipschitz(self, sizes: Sequence[Sequence[int]], n_iter: int = 30) -> list[Tensor]:
        """‖D_i‖² of each layer on inputs of the given sizes, by power iteration (no grad)."""
        out = []
        with torch.no_grad():
            for i, size in enumerate(sizes):
                w = self.weights[i]
                v = torch.randn(1, *size, dtype=w.dtype, device=w.device,
                                generator=torch.Generator(device=w.device).manual_seed(i))
                for _ in range(n_iter):
                    v = self.synthesis(i, self.analysis(i, v), v.shape)
                    v = v / torch.linalg.vector_norm(v)
                out.append(torch.linalg.vector_norm(self.analysis(i, v)).square() * 1.01)
        return out

    # ------------------------------------------------------------------ inference
    def thresholding(self, x: Tensor) -> list[Tensor]:
        """Layered soft thresholding ``γ_i = ReLU(conv2d(γ_{i−1}, W_i) + b_i)``: all layers."""
        codes = []
        z = x
        for i in range(self.n_layers):
            if self.nonnegative:
                # the bias inside conv2d, as a CNN layer computes it (bitwise the same result)
                z = F.relu(F.conv2d(z, self.weights[i], self.biases[i], stride=self.strides[i]))
            else:
                z = self._threshold(i, self.analysis(i, z))
            codes.append(z)
        return codes

    def forward(self, x: Tensor, return_all: bool = False) -> Tensor | list[Tensor]:
        """Codes of ``x`` (B, C_0, H, W): the deepest ``γ_L`` (or all layers' with
        ``return_all``)."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.channels[0]:
            raise ValueError(f"x must have shape (B, {self.channels[0]}, H, W), "
                             f"got {tuple(x.shape)}")
        codes = self.thresholding(x)
        if self.n_unfoldings and self.method == "layered_bp":
            codes = self._layered_bp(x, codes)
        elif self.n_unfoldings and self.method in ("ista", "fista"):
            codes = self._ml_ista(x, codes, fast=self.method == "fista")
        return codes if return_all else codes[-1]

    def _steps(self, x: Tensor, codes: list[Tensor]) -> list[float | Tensor]:
        if self.step_sizes is not None:
            return list(self.step_sizes)
        sizes = [x.shape[1:]] + [c.shape[1:] for c in codes[:-1]]
        return [1.0 / L for L in self.lipschitz(sizes)]

    def _layered_bp(self, x: Tensor, codes: list[Tensor]) -> list[Tensor]:
        steps = self._steps(x, codes)
        out = []
        target = x
        for i in range(self.n_layers):
            g = codes[i] if i == 0 else self._threshold(i, self.analysis(i, target))
            v, t = g, 1.0
            for _ in range(self.n_unfoldings):
                grad = self.analysis(i, self.synthesis(i, v, target.shape) - target)
                g_new = self._threshold(i, v - steps[i] * grad, steps[i])
                t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
                v = g_new + ((t - 1.0) / t_new) * (g_new - g)
                g, t = g_new, t_new
            out.append(g)
            target = g
        return out

    def _ml_ista(self, x: Tensor, codes: list[Tensor], fast: bool) -> list[Tensor]:
        steps = self._steps(x, codes)
        L = self.n_layers
        sizes = [x.shape] + [c.shape for c in codes[:-1]]
        deepest, prev_deepest, t = codes[-1], codes[-1], 1.0
        for _ in range(self.n_unfoldings):
            g = deepest
            if fast:
                t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
                g = deepest + ((t - 1.0) / t_new) * (deepest - prev_deepest)
                t = t_new
            # project the deepest code down: γ̂_i = D_{i+1} ⋯ D_L γ_L
            hats = [g]
            for i in range(L - 1, 0, -1):
                hats.insert(0, self.synthesis(i, hats[0], sizes[i]))
            # one proximal-gradient step per layer, each fitting the layer above's new code
            new, above, cum = [], x, 1.0
            for i in range(L):
                grad = self.analysis(i, self.synthesis(i, hats[i], sizes[i]) - above)
                cum = cum * steps[i]
                above = self._threshold(i, hats[i] - steps[i] * grad, cum)
                new.append(above)
            prev_deepest, deepest = deepest, new[-1]
            codes = new
        return codes

    def objective(self, x: Tensor, deepest: Tensor) -> Tensor:
        """Multi-layer basis pursuit objective of the deepest code ``γ_L``, per sample (B,).

        ``½‖x − D_1⋯D_L γ_L‖² + Σ_i λ_i ‖D_{i+1}⋯D_L γ_L‖₁`` with ``λ_i = −b_i`` per channel.
        """
        sizes = [x.shape]
        z = x
        for i in range(self.n_layers - 1):
            z = self.analysis(i, z)
            sizes.append(z.shape)
        val = 0.0
        g = deepest
        for i in range(self.n_layers - 1, -1, -1):
            lam = (-self.biases[i])[:, None, None]
            val = val + (lam * g.abs()).sum((1, 2, 3))
            g = self.synthesis(i, g, sizes[i])
        return val + 0.5 * (x - g).square().sum((1, 2, 3))


def _per_layer(name: str, value, n_layers: int) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * n_layers
    try:
        value = list(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of {n_layers} ints, "
                        f"got {value!r}") from None
    if len(value) != n_layers:
        raise ValueError(f"{name} must have {n_layers} entries (one per layer), got {len(value)}")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1) for i, v in enumerate(value))
