"""Kernel ridge classification that scales to 10^5 training points: exact (Cholesky) on small
problems, Nystrom centres with a preconditioned conjugate-gradient solve (FALKON) on large ones,
in torch (CPU or GPU), with kernel matrices evaluated block by block."""
from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ParameterGrid, train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from scatter._validation import check_choice, check_float, check_int

from ._blocked_cholesky import cholesky_lower_, cholesky_solve_lower
from .kernels import KERNELS, conjugate_gradient, kernel_blocks, kernel_matmul, median_gamma, row_blocks

# Entries of a matrix SciPy's LP64 LAPACK can index (32-bit integers); larger ones, and GPU
# matrices, are factorised by the blocked Cholesky of _blocked_cholesky
LAPACK_LP64_LIMIT = 2 ** 31

# Smallest per-sample ridge alpha / n the Nystrom solver trusts in float32 (below it a warning):
# float32 kernel values carry relative errors of ~6e-8 that a smaller ridge lets through
FLOAT32_RIDGE_FLOOR = 1e-7

__all__ = ["KernelClassifier", "select_kernel_params"]

SOLVERS = ("auto", "exact", "nystrom")


class KernelClassifier(ClassifierMixin, BaseEstimator):
    r"""Kernel ridge classifier (one-vs-all regression on +-1 targets), exact or Nystrom/FALKON.

    For classes :math:`c = 1..C`, targets :math:`Y_{ic} = +1` if :math:`y_i = c` else
    :math:`-1` (a single column, for the second class, when :math:`C = 2`, as scikit-learn's
    ``RidgeClassifier``). The decision function is :math:`f(x) = \sum_j k(x, z_j)\,\beta_j`
    (no intercept, as scikit-learn's ``KernelRidge``); the predicted class is the arg-max (the
    sign for two classes).

    - ``solver='exact'``: the centres are all training points and
      :math:`(K + \alpha I)\beta = Y` is solved by Cholesky: the same predictions as
      ``sklearn.kernel_ridge.KernelRidge(alpha, kernel, gamma)`` fitted on ``Y``.
    - ``solver='nystrom'``: ``M = n_centers`` centres :math:`z_j` drawn uniformly without
      replacement from the training set (or given as ``centers``), and
      :math:`(K_{nM}^T K_{nM} + \alpha K_{MM})\beta = K_{nM}^T Y`, the ridge regression with
      penalty ``alpha`` on the Nystrom features :math:`K_{nM} K_{MM}^{-1/2}`: the same
      predictions as ``sklearn.kernel_approximation.Nystroem`` at the same centres followed by
      ``Ridge(alpha, fit_intercept=False)``. The system is solved by conjugate gradients with
      FALKON's preconditioner (Rudi, Carratino & Rosasco, "FALKON: an optimal large scale kernel
      method", NeurIPS 2017; Meanti, Carratino, Rosasco & Rudi, "Kernel methods through the roof",
      NeurIPS 2020): with :math:`K_{MM} = T^T T` (Cholesky) and
      :math:`A^T A = \tfrac{n}{M} T T^T + \alpha I`, CG runs on :math:`B^T H B` with
      :math:`B = T^{-1} A^{-1}`, which is close to the identity because
      :math:`K_{nM}^T K_{nM} \approx \tfrac{n}{M} K_{MM}^2`; a few tens of iterations suffice.
      The preconditioner, the CG vectors and the products' sums are float64 (``K_nM`` is in
      ``dtype``); the Cholesky factorisation of :math:`K_{MM}` adds a tiny diagonal jitter
      (:math:`M \epsilon`, machine epsilon of ``dtype``, as FALKON), an extra ridge of
      ``alpha`` times the jitter.
    - ``kernel='linear'`` is always solved exactly, in the primal:
      :math:`(X^T X + \alpha I) w = X^T Y` (the same predictions as the dual).
    - ``solver='auto'``: exact if ``n_samples <= n_centers`` (and ``centers`` is not given), else
      Nystrom.

    Memory (``s`` bytes per number of ``dtype``; ``n`` training points, ``M`` centres; vectors
    of ``(n + M) x n_classes`` neglected), beyond the data on ``device``:

    - exact: ``8 n^2`` (the kernel matrix, factorised in its own memory in float64); when that
      exceeds ``max_memory``, ``4 n^2`` (factorised in float32 and refined to ``tol`` with
      float64 residuals, which needs ``alpha`` large enough for float32: a stalled refinement
      warns and says so) plus ``8 n min(block_size, 2^27 / n)`` for a float64 residual block;
      the solver refuses to start if neither fits;
    - Nystrom: ``16 M^2`` (the preconditioner's two float64 triangular factors), plus ``8 n M``
      if that is at most ``max_memory`` (``K_nM`` kept in float64: each CG iteration is then two
      passes over it), else ``n M s`` if that is (kept in ``dtype``), or else ``block_size M s`` (one block of ``K_nM``, recomputed at each
      iteration), plus ``8 block_size M`` (a block in float64);
    - prediction: ``block_size M s``.

    Parameters
    ----------
    kernel : {'gaussian', 'laplacian', 'linear'}
        ``exp(-gamma ||x - z||_2^2)``, ``exp(-gamma ||x - z||_1)`` or ``<x, z>``
        (scikit-learn's ``rbf``, ``laplacian`` and ``linear`` kernels).
    gamma : float, optional
        Inverse bandwidth. ``None``: the median heuristic, ``1 / median`` of the squared
        Euclidean (Gaussian) or L1 (Laplacian) distances between 1000 training points drawn at
        random, times ``gamma_scale``.
    gamma_scale : float
        Multiplies the median-heuristic ``gamma`` (ignored when ``gamma`` is given); the knob
        :func:`select_kernel_params` tunes.
    alpha : float, optional
        Ridge penalty (scikit-learn's ``KernelRidge``/``Ridge`` convention: on the sum of squared
        errors, not the mean). ``None``: ``1e-6 * n_samples``.
    solver : {'auto', 'exact', 'nystrom'}
    n_centers : int
        Nystrom centres ``M`` (and the largest training set ``'auto'`` solves exactly).
    centers : array-like, shape (M, n_features), optional
        Use these Nystrom centres instead of drawing them (implies ``solver='nystrom'`` under
        ``'auto'``).
    max_iter : int
        Conjugate-gradient iterations (or refinement steps of a float32 exact solve) at most.
    tol : float
        Relative residual of the preconditioned system at which CG stops (of
        ``(K + alpha I) beta = Y`` for a refined float32 exact solve).
    block_size : int
        Rows per kernel block (bounds memory, see above).
    max_memory : float
        Bytes allowed for a kernel matrix kept whole (``K_nM``, or ``K`` for the exact solver).
    device : str or torch.device
        Where everything is computed, e.g. ``'cuda'``.
    dtype : {'float64', 'float32'}
        Precision of the data and of the kernel evaluations (default float64, as scikit-learn;
        float32: faster, half the memory; Nystrom's preconditioner and CG vectors are float64
        either way, and the exact solver factorises in float64 wherever ``8 n^2`` fits
        ``max_memory``). With float32 and the Nystrom solver keep ``alpha >= 1e-7 n`` (a
        ``UserWarning`` says so otherwise): a smaller ridge amplifies the float32 rounding of the kernel values (on MNIST scattering,
        ``alpha = 1e-8 n`` gave garbage in float32 and is fine in float64). Even above that
        floor float32 can move the solution of an ill-conditioned problem: MNIST log-scattering
        (J=3, 10,000 centres, ``alpha = 1e-7 n``) gave 0.87 % test error in float32 whatever
        the CG tolerance, 0.53 % in float64, as scikit-learn's float64 ridge: hence the
        float64 default.
    random_state : int, RandomState or None
        Draws the centres and the median-heuristic sample.

    Attributes
    ----------
    classes_ : ndarray, shape (C,)
    n_features_in_ : int
    gamma_ : float
        The bandwidth used.
    alpha_ : float
        The ridge penalty used.
    solver_ : str
        ``'exact'``, ``'primal'`` (linear kernel) or ``'nystrom'``.
    centers_ : Tensor, shape (M, n_features), or None
        The centres (all training points for the exact solver) minus ``shift_``, on ``device``;
        ``None`` for the linear kernel.
    coef_ : Tensor, shape (M, C') or (n_features, C')
        :math:`\beta` (or the primal weights for the linear kernel); ``C' = 1`` for two classes.
    shift_ : Tensor or None
        The training mean, subtracted from every point before a Gaussian or Laplacian kernel
        (which does not change the kernel, only the rounding); ``None`` for the linear one.
    n_iter_ : int
        CG iterations or refinement steps (1 for direct solves, scikit-learn's convention).
    residual_ : float
        Largest final relative residual over the outputs, of CG or of the refinement (0 for
        direct solves).
    timings_ : dict
        Nystrom only (else empty): seconds spent on the ``'preconditioner'``, the ``'kernel'`` matrix
        ``K_nM`` (with the right-hand side) and the ``'conjugate_gradient'`` iterations.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from scatter.models import KernelClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = KernelClassifier(n_centers=300, random_state=0).fit(X[:1200], y[:1200])
    >>> clf.solver_, clf.coef_.shape
    ('nystrom', torch.Size([300, 10]))
    >>> clf.score(X[1200:], y[1200:]) > 0.95
    True
    """

    def __init__(self, kernel: str = "gaussian", gamma: float | None = None,
                 gamma_scale: float = 1.0, alpha: float | None = None, solver: str = "auto",
                 n_centers: int = 10000, centers=None, max_iter: int = 50, tol: float = 1e-6,
                 block_size: int = 4096, max_memory: float = 4e9, device: str = "cpu",
                 dtype: str = "float64", random_state=None) -> None:
        self.kernel = kernel
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.alpha = alpha
        self.solver = solver
        self.n_centers = n_centers
        self.centers = centers
        self.max_iter = max_iter
        self.tol = tol
        self.block_size = block_size
        self.max_memory = max_memory
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        check_choice("kernel", self.kernel, KERNELS)
        check_choice("solver", self.solver, SOLVERS)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        if self.gamma is not None:
            check_float("gamma", self.gamma, positive=True)
        check_float("gamma_scale", self.gamma_scale, positive=True)
        if self.alpha is not None:
            check_float("alpha", self.alpha, nonnegative=True)
        check_int("n_centers", self.n_centers, minimum=1)
        check_int("max_iter", self.max_iter, minimum=1)
        check_float("tol", self.tol, nonnegative=True)
        check_int("block_size", self.block_size, minimum=1)
        check_float("max_memory", self.max_memory, positive=True)

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        X = torch.as_tensor(np.require(X, dtype=self.dtype, requirements=["C", "W"]), device=self.device)
        # the translation-invariant kernels see data centred by the training mean: the
        # squared distances ||x||^2 + ||z||^2 - 2 <x, z> then lose less to cancellation
        return X - self.shift_ if getattr(self, "shift_", None) is not None else X

    def _targets(self, y: np.ndarray) -> np.ndarray:
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"KernelClassifier needs samples of at least 2 classes; got 1 class: "
                             f"{self.classes_.tolist()}")
        if len(self.classes_) == 2:
            return np.where(codes == 1, 1.0, -1.0)[:, None]
        Y = -np.ones((len(y), len(self.classes_)))
        Y[np.arange(len(y)), codes] = 1.0
        return Y

    # ---------------------------------------------------------------------------------- fit
    def fit(self, X, y) -> "KernelClassifier":
        """Fit on training data.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Real, finite features (standardised features suit the defaults).
        y : array-like, shape (n_samples,)
            Class labels.

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=False)
        Y = self._targets(y)
        n = X.shape[0]
        self.shift_, self.timings_ = None, {}
        if self.kernel != "linear":
            self.shift_ = torch.as_tensor(X.mean(0, dtype=np.float64), dtype=getattr(torch, self.dtype),
                                          device=self.device)
        Xt = self._tensor(X)
        Yt = torch.as_tensor(Y, dtype=Xt.dtype, device=Xt.device)
        self.alpha_ = 1e-6 * n if self.alpha is None else float(self.alpha)
        gen = torch.Generator().manual_seed(int(check_random_state(self.random_state).randint(2**31 - 1)))
        if self.kernel == "linear":
            self.gamma_ = 1.0
        elif self.gamma is not None:
            self.gamma_ = float(self.gamma)
        else:
            self.gamma_ = median_gamma(Xt, self.kernel, generator=gen) * float(self.gamma_scale)
        self.n_iter_, self.residual_ = 1, 0.0  # a direct solve counts as one iteration

        solver = self.solver
        if solver == "auto":
            solver = "exact" if n <= self.n_centers and self.centers is None else "nystrom"
        if self.kernel == "linear":
            self.solver_ = "primal"
            self.centers_ = None
            self.coef_ = self._fit_primal(Xt, Yt)
        elif solver == "exact":
            precision = self._exact_precision(n)
            self.solver_ = "exact"
            self.centers_ = Xt
            self.coef_ = self._fit_exact(Xt, Yt, precision)
        else:
            if self.dtype == "float32" and self.alpha_ < FLOAT32_RIDGE_FLOOR * n:
                warnings.warn(
                    f"alpha={self.alpha_:.3g} is below {FLOAT32_RIDGE_FLOOR:g} n_samples "
                    f"({FLOAT32_RIDGE_FLOOR * n:.3g}): in float32 the kernel values' rounding "
                    f"can move the Nystrom solution far from the float64 one (on MNIST "
                    f"scattering, 9 % test error instead of 0.5 %); use dtype='float64' or a "
                    f"larger alpha", UserWarning, stacklevel=2)
            self.solver_ = "nystrom"
            self.centers_ = self._pick_centers(Xt, gen)
            self.coef_ = self._fit_nystrom(Xt, Yt, self.centers_)
        return self

    def _pick_centers(self, Xt: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.centers is not None:
            C = np.asarray(self.centers)
            if C.ndim != 2 or C.shape[1] != Xt.shape[1] or C.shape[0] == 0:
                raise ValueError(f"centers must have shape (M, {Xt.shape[1]}) with M >= 1 "
                                 f"(n_features of X), got {C.shape}")
            if not np.issubdtype(C.dtype, np.number) or not np.all(np.isfinite(C)):
                raise ValueError("centers must hold finite real numbers")
            return self._tensor(C)
        n = Xt.shape[0]
        M = min(self.n_centers, n)
        idx = torch.randperm(n, generator=gen)[:M].sort().values.to(Xt.device)
        return Xt[idx].clone()

    def _fit_primal(self, Xt: torch.Tensor, Yt: torch.Tensor) -> torch.Tensor:
        G = Xt.T @ Xt
        G.diagonal().add_(self.alpha_)
        return _spd_solve(G, Xt.T @ Yt, "X^T X + alpha I")

    def _exact_precision(self, n: int) -> torch.dtype:
        """The dtype the exact solver factorises ``K + alpha I`` in: float64 when ``8 n^2``
        bytes fit in ``max_memory``, else float32 when ``4 n^2`` do (then refined, see
        :meth:`_fit_exact`)."""
        if n * n * 8 <= self.max_memory:
            return torch.float64
        if n * n * 4 <= self.max_memory:
            return torch.float32
        raise ValueError(f"solver='exact' needs the {n} x {n} kernel matrix ({n * n * 8 / 1e9:.2f} GB "
                         f"in float64, {n * n * 4 / 1e9:.2f} GB in float32) > max_memory="
                         f"{self.max_memory:.3g} bytes; use solver='nystrom' or raise max_memory")

    def _fit_exact(self, Xt: torch.Tensor, Yt: torch.Tensor, precision: torch.dtype) -> torch.Tensor:
        """``(K + alpha I)^{-1} Y`` by Cholesky in ``K``'s own memory.

        In float64 whenever it fits, whatever ``dtype``: with a small alpha, ``K + alpha I`` is
        badly conditioned for float32. Where only float32 fits, its factorisation is used for
        mixed-precision iterative refinement (Wilkinson; Higham, *Accuracy and Stability of
        Numerical Algorithms*, 2nd ed., ch. 12): the residual ``Y - (K + alpha I) beta`` is
        evaluated in float64 with the kernel recomputed block by block, and corrected with the
        float32 factor until its relative size is at most ``tol`` (``max_iter`` steps at most);
        it converges while ``cond(K + alpha I)`` is well below ``1 / eps_float32 ~ 1.7e7``."""
        n = Xt.shape[0]
        K = torch.empty((n, n), dtype=precision, device=Xt.device)
        Xp = Xt.to(precision)  # Xt itself where the precisions agree
        for rows, block in kernel_blocks(Xp, Xp, self.kernel, self.gamma_, self.block_size):
            K[rows] = block
        del Xp
        K.diagonal().add_(self.alpha_)
        if precision == torch.float64:
            return _spd_solve(K, Yt.to(precision), "K + alpha I").to(Xt.dtype)
        L = _cholesky_in_place(K, "K + alpha I", f"increase alpha, or max_memory to {8 * n * n:.3g} "
                               f"bytes for a float64 factorisation")
        X64, Y64 = Xt.to(torch.float64), Yt.to(torch.float64)
        norm = Y64.norm(dim=0).clamp_(min=torch.finfo(torch.float64).tiny)
        rows = max(1, min(self.block_size, 2 ** 27 // n))  # a float64 block of at most 1 GB
        beta = torch.zeros_like(Y64)
        residual, previous = Y64, math.inf
        for step in range(self.max_iter):
            beta += cholesky_solve_lower(L, residual).to(torch.float64)
            residual = Y64 - self.alpha_ * beta - kernel_matmul(X64, X64, beta, self.kernel, self.gamma_, rows)
            self.n_iter_, self.residual_ = step + 1, float((residual.norm(dim=0) / norm).max())
            if self.residual_ <= self.tol:
                break
            if self.residual_ > 0.5 * previous:
                warnings.warn(
                    f"the exact solve in float32 (float64 needs 8 n^2 = {8 * n * n:.3g} bytes > "
                    f"max_memory) stalls at a relative residual of {self.residual_:.2e} > "
                    f"tol={self.tol:g}: K + alpha I is too ill-conditioned for a float32 "
                    f"factorisation; increase alpha or max_memory", ConvergenceWarning, stacklevel=3)
                break
            previous = self.residual_
        return beta.to(Xt.dtype)

    def _fit_nystrom(self, Xt: torch.Tensor, Yt: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
        n, M = Xt.shape[0], C.shape[0]
        s = Xt.element_size()
        t0 = time.perf_counter()
        # preconditioner in float64 whatever ``dtype`` (in float32, CG diverged on MNIST with a
        # wide kernel and a small alpha): K_MM + jitter = T^T T, A^T A = (n / M) T T^T + alpha I
        f64 = torch.float64
        T = _cholesky_upper(kernel_matmul_full(C, C, self.kernel, self.gamma_, self.block_size).to(f64),
                            "K_MM (the centres' kernel matrix)", eps=torch.finfo(Xt.dtype).eps)
        W = T @ T.T
        W.mul_(n / M).diagonal().add_(self.alpha_)
        # in W's own memory (the lower factor's transpose; the triangle below is not read)
        A = _cholesky_in_place(W, "(n/M) T T^T + alpha I").T
        del W
        t1 = time.perf_counter()

        # K_nM kept in float64 if it fits (no conversion at each CG iteration), else in dtype
        keep_dtype = f64 if n * M * 8 <= self.max_memory else Xt.dtype
        keep = n * M * s <= self.max_memory
        K_nM = torch.empty((n, M), dtype=keep_dtype, device=Xt.device) if keep else None
        rhs = torch.zeros((M, Yt.shape[1]), dtype=Xt.dtype, device=Xt.device)
        for rows, block in kernel_blocks(Xt, C, self.kernel, self.gamma_, self.block_size):
            rhs += (Yt[rows].T @ block).T  # (v^T K)^T: MKL is several times faster than K^T v
            if keep:
                K_nM[rows] = block

        def KtK(v):
            # K_nM^T K_nM v accumulated in float64, block by block: with float32 products the
            # operator is not symmetric positive definite to the precision a small alpha needs,
            # and CG diverged (MNIST scattering, alpha = 1e-8 n); a float32 K_nM is only a
            # fixed perturbation of the matrix
            out = torch.zeros_like(v)
            if keep:
                blocks = ((rows, K_nM[rows]) for rows in row_blocks(n, self.block_size))
            else:
                blocks = kernel_blocks(Xt, C, self.kernel, self.gamma_, self.block_size)
            for _, block in blocks:
                block = block.to(f64)
                out += ((block @ v).T @ block).T
            return out

        def solve(R, x, transpose=False):  # R^-1 x or R^-T x, R upper triangular
            return torch.linalg.solve_triangular(R.T if transpose else R, x, upper=not transpose)

        # CG on B^T H B u = B^T K_nM^T Y with B = T^-1 A^-1 and H = K_nM^T K_nM + alpha T^T T;
        # since T B = A^-1, B^T H B u = A^-T (T^-T K_nM^T K_nM B u + alpha A^-1 u): four
        # triangular solves and one pass over K_nM per iteration (FALKON's Algorithm 1)
        def H_hat(u):
            Ainv_u = solve(A, u)
            v = solve(T, Ainv_u)
            return solve(A, solve(T, KtK(v), transpose=True) + self.alpha_ * Ainv_u, transpose=True)

        b = solve(A, solve(T, rhs.to(f64), transpose=True), transpose=True)
        t2 = time.perf_counter()
        u, self.n_iter_, res = conjugate_gradient(H_hat, b, self.max_iter, self.tol)
        self.residual_ = float(res.max())
        self.timings_ = {"preconditioner": t1 - t0, "kernel": t2 - t1,
                         "conjugate_gradient": time.perf_counter() - t2}
        return solve(T, solve(A, u)).to(Xt.dtype)

    # ------------------------------------------------------------------------------ predict
    def decision_function(self, X) -> np.ndarray:
        """One-vs-all scores.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, float64, shape (n_samples,) for two classes (positive: ``classes_[1]``), else
        (n_samples, n_classes)
        """
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Xt = self._tensor(X)
        if self.solver_ == "primal":
            F = Xt @ self.coef_
        else:
            F = kernel_matmul(Xt, self.centers_, self.coef_, self.kernel, self.gamma_, self.block_size)
        F = F.cpu().numpy().astype(np.float64)
        return F[:, 0] if F.shape[1] == 1 else F

    def predict(self, X) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,), the dtype of ``classes_``
        """
        F = self.decision_function(X)
        idx = (F > 0).astype(int) if F.ndim == 1 else F.argmax(1)
        return self.classes_[idx]


def kernel_matmul_full(X: torch.Tensor, Z: torch.Tensor, kernel: str, gamma: float,
                       block_size: int) -> torch.Tensor:
    """The whole kernel matrix ``K(X, Z)``, built block by block."""
    K = torch.empty((X.shape[0], Z.shape[0]), dtype=X.dtype, device=X.device)
    for rows, block in kernel_blocks(X, Z, kernel, gamma, block_size):
        K[rows] = block
    return K


def _cholesky_upper(K: torch.Tensor, what: str, eps: float | None = None) -> torch.Tensor:
    """Upper Cholesky factor ``T`` of ``K``: ``K + shift I = T^T T`` (``K`` is shifted in place).

    A diagonal shift starting at ``M eps mean(diag)`` (as FALKON; ``eps``: that of the precision
    ``K`` was computed in, default ``K``'s) and growing tenfold until the factorisation succeeds
    absorbs rounding and rank deficiency (duplicate centres); it acts as an extra ridge
    ``alpha * shift`` on the coefficients."""
    M = K.shape[0]
    eps = torch.finfo(K.dtype).eps if eps is None else eps
    shift = M * eps * (float(K.diagonal().mean().abs()) or 1.0)
    K.diagonal().add_(shift)
    for _ in range(8):
        T, info = torch.linalg.cholesky_ex(K, upper=True)
        if int(info) == 0:
            return T
        del T
        K.diagonal().add_(9 * shift)
        shift *= 10
    raise ValueError(f"{what} is not positive definite in {K.dtype} even with a diagonal jitter "
                     f"of {shift / 10:.3g}; the centres may be duplicates or gamma degenerate")


def _spd_solve(K: torch.Tensor, R: torch.Tensor, what: str) -> torch.Tensor:
    """Solve ``K X = R`` for symmetric positive definite ``K`` (overwritten by its Cholesky
    factor, see :func:`_cholesky_in_place`); ``X`` in ``K``'s dtype."""
    return cholesky_solve_lower(_cholesky_in_place(K, what), R)


def _cholesky_in_place(K: torch.Tensor, what: str,
                       remedy: str = "increase alpha or use dtype='float64'") -> torch.Tensor:
    """``K`` (symmetric positive definite) overwritten by its Cholesky factor, in its own memory;
    returns the lower factor ``L`` (``K`` or a view of it) for :func:`cholesky_solve_lower`.

    On the CPU, LAPACK's ``potrf`` through SciPy (``K``'s transpose is the Fortran-ordered matrix
    LAPACK wants, equal to ``K``) where its 32-bit indices reach (it crashed at n = 60,000);
    beyond them and on a GPU, :func:`._blocked_cholesky.cholesky_lower_`.
    ``torch.linalg.cholesky_ex`` is not used: even with ``out=K`` it allocates a second ``n x n``
    matrix (measured at n = 16,000: +1.0 GB for a 1.0 GB ``K``)."""
    if K.device.type == "cpu" and K.numel() < LAPACK_LP64_LIMIT:
        from scipy.linalg import get_lapack_funcs

        a = K.numpy().T
        potrf, = get_lapack_funcs(("potrf",), (a,))
        _, info = potrf(a, lower=True, overwrite_a=True, clean=False)  # K's upper = a's lower
        K = K.T  # the factor is lower triangular in a, i.e. in K^T
    else:
        info = cholesky_lower_(K)
    if info != 0:
        raise ValueError(f"{what} is not positive definite in {K.dtype} (pivot {info}); {remedy}")
    return K


def select_kernel_params(estimator: KernelClassifier, X, y, param_grid: dict[str, Any] | list,
                         validation_fraction: float = 0.2, random_state=0, refit: bool = True
                         ) -> tuple[KernelClassifier, list[dict[str, Any]]]:
    """Choose hyper-parameters on the training data only: fit on a stratified part of ``(X, y)``,
    score on the held-out rest, keep the best, refit on all of ``(X, y)``.

    Parameters
    ----------
    estimator : KernelClassifier
        Template; its other parameters are kept.
    X : array-like, shape (n_samples, n_features)
    y : array-like, shape (n_samples,)
    param_grid : dict or list of dicts
        As scikit-learn's ``ParameterGrid``, e.g.
        ``{'gamma_scale': [0.5, 1, 2], 'alpha': [1e-3, 1e-1]}``.
    validation_fraction : float
        Share of ``(X, y)`` held out, in (0, 1).
    random_state : int or None
        The split.
    refit : bool
        Refit the best parameters on all of ``(X, y)``; otherwise the returned estimator is the
        one fitted on the training part.

    Returns
    -------
    best : KernelClassifier
        Fitted with the best parameters.
    results : list of dict
        One per candidate: ``params``, ``validation_accuracy``, ``fit_seconds``, in grid order.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from scatter.models import KernelClassifier, select_kernel_params
    >>> X, y = load_digits(return_X_y=True)
    >>> best, results = select_kernel_params(KernelClassifier(), X[:600], y[:600],
    ...                                      {"gamma_scale": [0.5, 2.0], "alpha": [1e-3, 1.0]})
    >>> len(results), best.score(X[600:], y[600:]) > 0.9
    (4, True)
    """
    if not isinstance(estimator, KernelClassifier):
        raise TypeError(f"estimator must be a KernelClassifier, got {type(estimator).__name__}")
    validation_fraction = check_float("validation_fraction", validation_fraction, positive=True)
    if validation_fraction >= 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    grid = list(ParameterGrid(param_grid))
    if not grid:
        raise ValueError("param_grid is empty")
    y = np.asarray(y)
    X_tr, X_va, y_tr, y_va = train_test_split(np.asarray(X), y, test_size=validation_fraction,
                                              random_state=random_state, stratify=y)
    results, best, best_score = [], None, -math.inf
    for params in grid:
        est = clone(estimator).set_params(**params)
        t0 = time.perf_counter()
        est.fit(X_tr, y_tr)
        seconds = time.perf_counter() - t0
        score = float(est.score(X_va, y_va))
        results.append({"params": params, "validation_accuracy": score, "fit_seconds": seconds})
        if score > best_score:
            best, best_score = (params, est), score
    if refit:
        return clone(estimator).set_params(**best[0]).fit(X, y), results
    return best[1], results
