"""Cholesky factorisation and solve of a symmetric positive definite matrix in its own memory,
block by block in torch: for kernel matrices too large for a second copy.

``torch.linalg.cholesky_ex(K, out=K)`` allocates a second ``n x n`` matrix, and SciPy's LAPACK
(in place) indexes with 32-bit integers (it crashed at ``n = 60,000``). The right-looking
blocked algorithm (Golub & Van Loan, *Matrix Computations*, 4th ed., algorithm 4.2.10) needs only
one ``b x b`` diagonal block and one ``(n - b) x b`` panel besides ``K``; its ``n^3 / 3`` flops
are matrix products on strided views of ``K``, which BLAS updates in place.
"""
from __future__ import annotations

import torch

BLOCK = 2048


def cholesky_lower_(K: torch.Tensor, block: int | None = None) -> int:
    """Overwrite the lower triangle of ``K`` with its Cholesky factor ``L`` (``K = L L^T``).

    Only the lower triangle of ``K`` is read; the strict upper triangle of each diagonal block is
    zeroed and the rest of the upper triangle is left as it was.

    Parameters
    ----------
    K : Tensor, shape (n, n), float32 or float64, C-contiguous
        Symmetric positive definite; overwritten.
    block : int, optional
        Columns per block (default ``BLOCK``; memory beyond ``K``: ``block^2 + (n - block) block``
        numbers).

    Returns
    -------
    int
        0 on success, else the 1-based index of the first non-positive pivot (LAPACK's ``info``);
        ``K`` then holds a partial factorisation.
    """
    if K.ndim != 2 or K.shape[0] != K.shape[1] or not K.is_contiguous():
        raise ValueError(f"K must be a contiguous square matrix, got shape {tuple(K.shape)}")
    n = K.shape[0]
    block = block or BLOCK
    for j in range(0, n, block):
        e = min(j + block, n)
        L_jj, info = torch.linalg.cholesky_ex(K[j:e, j:e])
        if int(info) != 0:
            return j + int(info)
        K[j:e, j:e] = L_jj
        if e == n:
            break
        # panel: K[e:, j:e] <- K[e:, j:e] L_jj^{-T}
        K[e:, j:e] = torch.linalg.solve_triangular(L_jj.T, K[e:, j:e], upper=True, left=False)
        panel = K[e:, j:e]
        # trailing lower triangle: K[k:, k:k+b] -= panel[k:] panel[k:k+b]^T, one column block at
        # a time so that the upper triangle is never computed (n^3 / 3 flops in all, not 2 n^3 / 3)
        for k in range(e, n, block):
            ke = min(k + block, n)
            K[k:, k:ke].addmm_(panel[k - e:], panel[k - e:ke - e].T, alpha=-1.0)
    return 0


def cholesky_solve_lower(L: torch.Tensor, R: torch.Tensor, block: int | None = None) -> torch.Tensor:
    """Solve ``L L^T X = R`` with the factor in the lower triangle of ``L``
    (from :func:`cholesky_lower_`; the upper triangle is ignored).

    Parameters
    ----------
    L : Tensor, shape (n, n)
    R : Tensor, shape (n, k), any floating dtype (solved in ``L``'s)
    block : int, optional
        Rows per block (default ``BLOCK``).

    Returns
    -------
    Tensor, shape (n, k), dtype of ``L``
    """
    n = L.shape[0]
    block = block or BLOCK
    X = R.to(L.dtype).clone()
    starts = list(range(0, n, block))
    for j in starts:  # forward: L Y = R
        e = min(j + block, n)
        if j:
            X[j:e].addmm_(L[j:e, :j], X[:j], alpha=-1.0)
        X[j:e] = torch.linalg.solve_triangular(L[j:e, j:e], X[j:e], upper=False)
    for j in reversed(starts):  # backward: L^T X = Y
        e = min(j + block, n)
        if e < n:
            X[j:e].addmm_(L[e:, j:e].T, X[e:], alpha=-1.0)
        X[j:e] = torch.linalg.solve_triangular(L[j:e, j:e].T, X[j:e], upper=True)
    return X
