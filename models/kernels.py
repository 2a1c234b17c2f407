"""Kernel functions evaluated block by block in torch, so that no more than one block of a kernel
matrix is ever held in memory: the numerics behind :class:`scatter.models.KernelClassifier`.

Kernels (scikit-learn's definitions, so that ``gamma`` means the same thing):

- ``'gaussian'``: ``k(x, z) = exp(-gamma ||x - z||_2^2)`` (scikit-learn's ``rbf_kernel``);
- ``'laplacian'``: ``k(x, z) = exp(-gamma ||x - z||_1)`` (scikit-learn's ``laplacian_kernel``);
- ``'linear'``: ``k(x, z) = <x, z>``.
"""
from __future__ import annotations

from typing import Callable, Iterator

import torch

KERNELS = ("gaussian", "laplacian", "linear")


def kernel_block(X: torch.Tensor, Z: torch.Tensor, kernel: str, gamma: float,
                 Z_sqnorm: torch.Tensor | None = None) -> torch.Tensor:
    """The kernel matrix ``K[i, j] = k(X[i], Z[j])`` of two blocks of points.

    Parameters
    ----------
    X : Tensor, shape (b, d)
    Z : Tensor, shape (m, d), same dtype and device as ``X``
    kernel : {'gaussian', 'laplacian', 'linear'}
    gamma : float
        Inverse bandwidth (ignored by ``'linear'``).
    Z_sqnorm : Tensor, shape (m,), optional
        ``(Z ** 2).sum(1)``, precomputed by callers that reuse ``Z`` (Gaussian only).

    Returns
    -------
    Tensor, shape (b, m), dtype of ``X``
    """
    if kernel == "linear":
        return X @ Z.T
    if kernel == "gaussian":
        if Z_sqnorm is None:
            Z_sqnorm = (Z * Z).sum(1)
        # ||x||^2 + ||z||^2 - 2 <x, z>: one GEMM; rounding can make it slightly negative
        K = torch.addmm(Z_sqnorm.unsqueeze(0), X, Z.T, alpha=-2.0)
        K.add_((X * X).sum(1, keepdim=True)).clamp_(min=0.0)
        return K.mul_(-gamma).exp_()
    if kernel == "laplacian":
        return torch.cdist(X, Z, p=1.0).mul_(-gamma).exp_()
    raise ValueError(f"kernel must be one of {list(KERNELS)}, got {kernel!r}")


def row_blocks(n: int, block_size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``block_size`` rows."""
    for start in range(0, n, block_size):
        yield slice(start, min(start + block_size, n))


def kernel_blocks(X: torch.Tensor, Z: torch.Tensor, kernel: str, gamma: float,
                  block_size: int) -> Iterator[tuple[slice, torch.Tensor]]:
    """``(rows, K(X[rows], Z))`` for consecutive row blocks of ``X``: one ``(block_size, m)``
    block alive at a time."""
    Z_sqnorm = (Z * Z).sum(1) if kernel == "gaussian" else None
    for rows in row_blocks(X.shape[0], block_size):
        yield rows, kernel_block(X[rows], Z, kernel, gamma, Z_sqnorm)


def kernel_matmul(X: torch.Tensor, Z: torch.Tensor, V: torch.Tensor, kernel: str, gamma: float,
                  block_size: int) -> torch.Tensor:
    """``K(X, Z) @ V`` without forming ``K(X, Z)``.

    Parameters
    ----------
    X : Tensor, shape (n, d)
    Z : Tensor, shape (m, d)
    V : Tensor, shape (m, k)
    kernel, gamma
        As in :func:`kernel_block`.
    block_size : int
        Rows of ``X`` per block; memory holds one ``(block_size, m)`` block.

    Returns
    -------
    Tensor, shape (n, k)
    """
    out = torch.empty((X.shape[0], V.shape[1]), dtype=V.dtype, device=V.device)
    for rows, K in kernel_blocks(X, Z, kernel, gamma, block_size):
        out[rows] = K.to(V.dtype) @ V
    return out


def median_gamma(X: torch.Tensor, kernel: str, n_pairs_max: int = 1000,
                 generator: torch.Generator | None = None) -> float:
    """The median heuristic: ``1 / median`` of the distances between points of ``X`` (squared
    Euclidean for ``'gaussian'``, L1 for ``'laplacian'``), so that a typical pair has
    ``k(x, z) = exp(-1)``.

    Computed on at most ``n_pairs_max`` points drawn at random (``generator``), over distinct
    pairs. Returns ``1.0`` if every distance is zero. ``'linear'`` has no bandwidth: ``1.0``.
    """
    if kernel == "linear":
        return 1.0
    n = X.shape[0]
    if n > n_pairs_max:
        idx = torch.randperm(n, generator=generator)[:n_pairs_max].to(X.device)
        X = X[idx]
    X = X.to(torch.float64)
    if kernel == "gaussian":
        D = torch.cdist(X, X, p=2.0) ** 2
    else:
        D = torch.cdist(X, X, p=1.0)
    iu = torch.triu_indices(D.shape[0], D.shape[0], offset=1, device=D.device)
    d = D[iu[0], iu[1]]
    if d.numel() == 0:
        return 1.0
    med = float(d.median())
    return 1.0 / med if med > 0 else 1.0


def conjugate_gradient(apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       max_iter: int, tol: float) -> tuple[torch.Tensor, int, torch.Tensor]:
    """Solve ``H x = b`` for symmetric positive definite ``H``, every column of ``b`` at once.

    The columns run independent CG recurrences (Hestenes & Stiefel 1952) sharing each product
    with ``H``; a column stops moving once its residual is below ``tol * ||b||``.

    Parameters
    ----------
    apply : callable
        ``V -> H @ V`` for ``V`` of shape (m, k).
    b : Tensor, shape (m, k)
    max_iter : int
    tol : float
        Relative residual at which to stop.

    Returns
    -------
    x : Tensor, shape (m, k)
    n_iter : int
        Products with ``H`` used.
    residual : Tensor, shape (k,)
        ``||b - H x|| / ||b||`` per column (the recurrence's residual) of the returned ``x``:
        each column's best iterate.
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    tiny = torch.finfo(b.dtype).tiny
    b_norm = b.norm(dim=0).clamp_min(tiny)
    rs = (r * r).sum(0)
    res = torch.sqrt(rs) / b_norm
    # rounding (e.g. float32 products inside ``apply``) can make the recurrence diverge: keep
    # each column's best iterate and stop a column whose residual grew 100-fold past its best
    x_best, res_best = x.clone(), res.clone()
    active = res > tol
    n_iter = 0
    while n_iter < max_iter and bool(active.any()):
        Hp = apply(p)
        n_iter += 1
        pHp = (p * Hp).sum(0)
        active = active & (pHp > 0)  # H not positive along p: numerically broken, stop
        step = torch.where(active, rs / torch.where(pHp > 0, pHp, 1.0), 0.0)
        x.addcmul_(p, step)
        r.addcmul_(Hp, -step)
        rs_new = (r * r).sum(0)
        beta = torch.where(active, rs_new / rs.clamp_min(tiny), 0.0)
        p = r + p * beta
        rs = torch.where(active, rs_new, rs)
        res = torch.sqrt(rs) / b_norm
        better = active & (res < res_best)
        x_best[:, better] = x[:, better]
        res_best = torch.where(better, res, res_best)
        active = active & (res > tol) & (res < 100 * res_best)
    return x_best, n_iter, res_best
