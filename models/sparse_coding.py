"""Sparse coding (Olshausen & Field 1996) as a scikit-learn-style estimator in torch.

Objective, per patch ``x`` (a vector of ``n_features`` pixels) and code ``a`` (``n_atoms``)::

    E(x, a) = 1/2 ||x - Phi a||^2 + alpha * S(a)

with ``S(a) = sum_i |a_i|`` (``penalty='l1'``, inferred by FISTA) or
``S(a) = sum_i log(1 + a_i^2)`` (``penalty='log'``, the prior of Olshausen & Field, inferred by
accelerated gradient descent). The dictionary ``Phi`` is learned from mini-batches, its columns
kept at norm <= 1 ("norm control"; without it the penalty would shrink codes and grow atoms).
"""
from __future__ import annotations

import math
import numbers
import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from .._validation import check_choice, check_float, check_int

__all__ = ["SparseCoding", "infer_codes", "sparse_objective"]

_PENALTIES = ("l1", "log")


# ------------------------------------------------------------------------------ inference
def _penalty(codes: torch.Tensor, penalty: str) -> torch.Tensor:
    """``S(a)`` per row, shape (n,)."""
    if penalty == "l1":
        return codes.abs().sum(-1)
    return torch.log1p(codes * codes).sum(-1)


def sparse_objective(X: torch.Tensor, codes: torch.Tensor, D: torch.Tensor, alpha: float,
                     penalty: str = "l1") -> torch.Tensor:
    """Mean over rows of ``1/2 ||x - D a||^2 + alpha S(a)`` (a 0-d tensor, no host sync).

    Parameters
    ----------
    X : Tensor (n, n_features); codes : Tensor (n, n_atoms); D : Tensor (n_features, n_atoms)
    """
    r = X - codes @ D.T
    return (0.5 * (r * r).sum(-1) + alpha * _penalty(codes, penalty)).mean()


def infer_codes(X: torch.Tensor, D: torch.Tensor, alpha: float, penalty: str = "l1",
                n_iter: int = 100, codes0: torch.Tensor | None = None) -> torch.Tensor:
    """Codes minimising ``1/2 ||x - D a||^2 + alpha S(a)`` for every row of ``X``.

    ``penalty='l1'``: FISTA (Beck & Teboulle 2009, SIAM J. Imaging Sci. 2:183) with step
    ``1/L``, ``L = ||D^T D||_2``. ``penalty='log'``: the same accelerated scheme without the
    proximal step (``S`` is smooth, its gradient ``2a/(1+a^2)`` is 2-Lipschitz, step
    ``1/(L + 2 alpha)``); ``S`` is not convex, so momentum restarts per row whenever it points
    uphill (O'Donoghue & Candes 2015). All rows are solved together with one ``(n, k) x (k, k)``
    product per iteration (the Gram matrix is formed once); no host synchronisation.

    Parameters
    ----------
    X : Tensor, shape (n, n_features)
    D : Tensor, shape (n_features, n_atoms), same device and dtype
    alpha : float
        Penalty weight ``>= 0``.
    penalty : {'l1', 'log'}
    n_iter : int
        Iterations (fixed: a tolerance test would synchronise with the host).
    codes0 : Tensor (n, n_atoms), optional
        Warm start (default zeros).

    Returns
    -------
    Tensor, shape (n, n_atoms)
    """
    G = D.T @ D
    XD = X @ D
    L = torch.linalg.matrix_norm(G, ord=2)
    if penalty == "log":
        L = L + 2 * alpha
    step = 1.0 / L.clamp_min(torch.finfo(G.dtype).tiny)
    a = torch.zeros_like(XD) if codes0 is None else codes0.clone()
    y = a
    t = 1.0
    for _ in range(n_iter):
        grad = y @ G - XD
        if penalty == "l1":
            z = y - step * grad
            a_new = torch.sign(z) * torch.clamp(z.abs() - alpha * step, min=0)
        else:
            grad = grad + alpha * 2 * y / (1 + y * y)
            a_new = y - step * grad
            # adaptive restart: drop the momentum of rows where it goes against the gradient
            uphill = ((grad * (a_new - a)).sum(-1, keepdim=True) > 0)
            a_new = torch.where(uphill, a - step * (a @ G - XD + alpha * 2 * a / (1 + a * a)),
                                a_new)
        t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        y = a_new + ((t - 1) / t_new) * (a_new - a)
        a, t = a_new, t_new
    return a


# ------------------------------------------------------------------------------ estimator
class SparseCoding(TransformerMixin, BaseEstimator):
    """Sparse coding with a learned dictionary (Olshausen & Field 1996), in torch.

    Minimises, over a dictionary ``Phi`` (``n_features x n_atoms``, columns of norm <= 1) and
    codes, the mean of ``1/2 ||x - Phi a||^2 + alpha S(a)`` over mini-batches of patches.

    Parameters
    ----------
    n_atoms : int
        Number of dictionary atoms (>= 1).
    alpha : float
        Sparsity weight lambda (>= 0).
    penalty : {'l1', 'log'}
        ``S(a) = sum |a_i|`` (convex, FISTA) or ``sum log(1 + a_i^2)`` (Olshausen-Field prior).
    n_epochs : int
        Passes over the data in :meth:`fit`.
    batch_size : int
        Patches per dictionary update.
    inference_iter : int
        Inference iterations per mini-batch while learning. Truncated codes suffice there: on
        16x16 whitened patches, 15-20 FISTA steps learn as good a dictionary per patch seen as
        50, in less than half the time (benchmarks/olshausen_field.py).
    transform_iter : int
        Inference iterations in :meth:`transform` (more: the codes reported are converged).
    dict_update : {'online', 'sgd'}
        ``'online'``: block-coordinate descent on the running surrogate
        ``1/2 tr(Phi^T Phi A) - tr(Phi^T B)`` with ``A = sum a a^T``, ``B = sum x a^T``
        (Mairal et al. 2010, JMLR 11:19), past batches down-weighted by
        ``(1 - 1/t)^forget`` at step ``t``. ``'sgd'``: the gradient step of Olshausen & Field,
        ``Phi += learning_rate * (x - Phi a) a^T`` (batch mean). Both renormalise columns to
        norm <= 1 after every step, and re-seed atoms left unused with a patch of the batch.
    forget : float
        Forgetting exponent of ``'online'`` (>= 0; larger forgets the early, poor codes faster).
    learning_rate : float
        Step of ``'sgd'`` (> 0).
    init : {'random', 'patches'}
        Initial atoms: Gaussian noise or random patches of the data, normalised.
    device : str or torch.device, optional
        Where to compute; default: the device of a tensor given to :meth:`fit`, else CPU.
    random_state : int or None
        Seed of the initialisation and the shuffling.
    verbose : bool
        Show a tqdm progress bar in :meth:`fit`.

    Attributes
    ----------
    dictionary_ : ndarray, float32, shape (n_atoms, n_features)
        Learned atoms as rows (``components_`` is the same array, scikit-learn's name).
    loss_history_ : ndarray, float64, shape (n_steps,)
        Objective of each mini-batch (with its codes before the dictionary update).
    n_steps_ : int
        Dictionary updates made so far.
    n_features_in_ : int

    Notes
    -----
    :meth:`transform` uses the same penalty and ``alpha`` as learning (unlike scikit-learn's
    default OMP transform), with more iterations. Inputs may be NumPy arrays (the results are
    NumPy) or torch tensors (the results stay on the tensor's device).

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import models
    >>> X = np.random.default_rng(0).standard_normal((200, 64)).astype(np.float32)  # 8x8 patches
    >>> sc = models.SparseCoding(n_atoms=16, alpha=0.1, batch_size=50, random_state=0).fit(X)
    >>> sc.dictionary_.shape, sc.dictionary_.dtype, sc.n_steps_
    ((16, 64), dtype('float32'), 4)
    >>> codes = sc.transform(X[:5])                  # same penalty and alpha as fit
    >>> codes.shape, sc.inverse_transform(codes).shape
    ((5, 16), (5, 64))
    """

    def __init__(self, n_atoms: int = 256, alpha: float = 0.1, penalty: str = "l1",
                 n_epochs: int = 1, batch_size: int = 512, inference_iter: int = 20,
                 transform_iter: int = 200, dict_update: str = "online", forget: float = 10.0,
                 learning_rate: float = 0.5, init: str = "random", device=None,
                 random_state: int | None = None, verbose: bool = False) -> None:
        self.n_atoms = n_atoms
        self.alpha = alpha
        self.penalty = penalty
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.inference_iter = inference_iter
        self.transform_iter = transform_iter
        self.dict_update = dict_update
        self.forget = forget
        self.learning_rate = learning_rate
        self.init = init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation helpers
    def _check_params(self) -> None:
        check_int("n_atoms", self.n_atoms, minimum=1)
        check_float("alpha", self.alpha, nonnegative=True)
        check_choice("penalty", self.penalty, _PENALTIES)
        check_int("n_epochs", self.n_epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("inference_iter", self.inference_iter, minimum=1)
        check_int("transform_iter", self.transform_iter, minimum=1)
        check_choice("dict_update", self.dict_update, ("online", "sgd"))
        check_float("forget", self.forget, nonnegative=True)
        check_float("learning_rate", self.learning_rate, positive=True)
        check_choice("init", self.init, ("random", "patches"))
        if self.random_state is not None and not isinstance(self.random_state, numbers.Integral):
            raise TypeError(f"random_state must be an int or None, got {self.random_state!r}")

    def _device(self, X) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        if hasattr(self, "_D"):
            return self._D.device
        return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")

    def _as_tensor(self, X, name: str = "X", n_features: int | None = None) -> torch.Tensor:
        """Validate ``X`` (2D, real, finite, ``n_features`` columns) as a float32 tensor."""
        if isinstance(X, torch.Tensor):
            if X.is_complex():
                raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}")
            if not (X.is_floating_point() or X.dtype in (
                    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
                raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
            t = X.detach().to(device=self._device(X), dtype=torch.float32)
        else:
            import scipy.sparse
            if scipy.sparse.issparse(X):
                raise TypeError(f"{name}: sparse input is not supported, pass a dense array "
                                "(X.toarray())")
            arr = np.asarray(X)
            if np.iscomplexobj(arr):
                raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
            if arr.dtype == object:      # numbers stored as objects are accepted, as sklearn does
                try:
                    arr = arr.astype(np.float64)
                except (TypeError, ValueError):
                    raise TypeError(f"{name} must be a real numeric array: argument must be "
                                    "numeric, not a string or other object; a real number is "
                                    "expected in every entry") from None
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
            t = torch.as_tensor(np.ascontiguousarray(arr, dtype=np.float32), device=self._device(X))
        if t.ndim != 2:
            raise ValueError(f"{name} must have shape (n_samples, n_features), got "
                             f"{tuple(t.shape)}; Reshape your data (x.reshape(1, -1) for one "
                             "sample)")
        for axis, what in ((0, "sample"), (1, "feature")):
            if t.shape[axis] < 1:
                raise ValueError(f"{name} has 0 {what}(s) (shape={tuple(t.shape)}) while a "
                                 "minimum of 1 is required.")
        if n_features is not None and t.shape[1] != n_features:
            raise ValueError(f"{name} has {t.shape[1]} features, but SparseCoding is expecting "
                             f"{n_features} features as input")
        if not bool(torch.isfinite(t).all()):   # boundary check: one sync per call is fine
            raise ValueError(f"{name} contains NaN or inf values")
        return t

    @staticmethod
    def _to_numpy(t: torch.Tensor, like) -> np.ndarray:
        """Host copy in the float dtype of the NumPy input ``like`` (float32 otherwise)."""
        dtype = getattr(like, "dtype", None)
        dtype = dtype if dtype in (np.float32, np.float64) else np.float32
        return t.cpu().numpy().astype(dtype, copy=False)

    def _check_fitted(self) -> None:
        if not hasattr(self, "_D"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError("this SparseCoding is not fitted yet: call fit or partial_fit")

    # ------------------------------------------------------------------------ learning
    def _initialise(self, X: torch.Tensor) -> None:
        self._check_params()
        n_features = X.shape[1]
        gen = torch.Generator().manual_seed(
            int(self.random_state) if self.random_state is not None else
            int(np.random.SeedSequence().generate_state(1)[0]))
        self._gen = gen
        if self.init == "random":
            D = torch.randn(n_features, self.n_atoms, generator=gen).to(X.device)
        else:
            idx = torch.randint(0, X.shape[0], (self.n_atoms,), generator=gen).to(X.device)
            D = X[idx].T.clone() + 1e-3 * torch.randn(n_features, self.n_atoms,
                                                      generator=gen).to(X.device)
        self._D = D / D.norm(dim=0, keepdim=True).clamp_min(1e-12)
        self._A = torch.zeros(self.n_atoms, self.n_atoms, device=X.device)
        self._B = torch.zeros(n_features, self.n_atoms, device=X.device)
        self._losses: list[torch.Tensor] = []
        self.n_steps_ = 0
        self.n_features_in_ = n_features

    def _step(self, X: torch.Tensor) -> None:
        """One mini-batch: infer codes, record the objective, update the dictionary."""
        D = self._D
        codes = infer_codes(X, D, self.alpha, self.penalty, self.inference_iter)
        self._losses.append(sparse_objective(X, codes, D, self.alpha, self.penalty).detach())
        self.n_steps_ += 1
        n = X.shape[0]
        if self.dict_update == "online":
            beta = (1.0 - 1.0 / self.n_steps_) ** self.forget if self.n_steps_ > 1 else 0.0
            self._A.mul_(beta).add_(codes.T @ codes / n)
            self._B.mul_(beta).add_(X.T @ codes / n)
            A, B = self._A, self._B
            diag = A.diagonal()
            # Block-coordinate descent, one sweep over the atoms (Mairal et al. 2010, Alg. 2).
            for j in range(self.n_atoms):
                u = D[:, j] + (B[:, j] - D @ A[:, j]) / (diag[j] + 1e-10)
                D[:, j] = u / u.norm().clamp_min(1.0)
            usage = diag
        else:
            residual = X - codes @ D.T
            D.add_(self.learning_rate * residual.T @ codes / n)
            D.div_(D.norm(dim=0, keepdim=True).clamp_min(1.0))
            usage = (codes * codes).mean(0)
        # Re-seed atoms that (almost) no patch uses with a patch of this batch, without a host
        # synchronisation (torch.where instead of a data-dependent branch).
        dead = usage < 1e-6 * usage.mean().clamp_min(1e-30)
        patches = X[torch.arange(self.n_atoms, device=X.device) % n].T
        patches = patches / patches.norm(dim=0, keepdim=True).clamp_min(1e-12)
        D.copy_(torch.where(dead[None, :], patches, D))

    def _finish(self) -> None:
        self.dictionary_ = self._D.T.contiguous().cpu().numpy()
        self.components_ = self.dictionary_
        self.loss_history_ = (torch.stack(self._losses).double().cpu().numpy()
                              if self._losses else np.zeros(0))

    def fit(self, X, y=None) -> "SparseCoding":
        """Learn the dictionary from patches, ``n_epochs`` shuffled passes in mini-batches.

        Parameters
        ----------
        X : array-like or Tensor, shape (n_samples, n_features)
            Patches as rows (e.g. from :func:`scatter.models.natural_patches`), finite.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        for name in ("_D", "_A", "_B"):
            if hasattr(self, name):
                delattr(self, name)
        X = self._as_tensor(X)
        self._initialise(X)
        n = X.shape[0]
        bs = min(self.batch_size, n)
        steps_per_epoch = n // bs
        total = steps_per_epoch * self.n_epochs
        from tqdm.auto import tqdm
        with tqdm(total=total, disable=not self.verbose, desc="SparseCoding", unit="batch") as bar:
            for _ in range(self.n_epochs):
                perm = torch.randperm(n, generator=self._gen).to(X.device)
                for s in range(steps_per_epoch):
                    self._step(X[perm[s * bs:(s + 1) * bs]])
                    bar.update(1)
                    if self.verbose and self.n_steps_ % 50 == 0:
                        bar.set_postfix(loss=f"{float(self._losses[-1]):.4g}")
        self._finish()
        return self

    def partial_fit(self, X, y=None) -> "SparseCoding":
        """Continue learning with one pass over ``X`` (streaming), in mini-batches of
        ``batch_size`` (unshuffled; an ``X`` smaller than ``batch_size`` is one mini-batch).

        The first call initialises the dictionary from ``X``; later calls keep the dictionary
        and the running statistics of ``'online'``.

        Parameters
        ----------
        X : array-like or Tensor, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X = self._as_tensor(X, n_features=getattr(self, "n_features_in_", None))
        if not hasattr(self, "_D"):
            self._initialise(X)
        n = X.shape[0]
        bs = min(self.batch_size, n)
        for s in range(max(n // bs, 1)):
            self._step(X[s * bs:(s + 1) * bs])
        self._finish()
        return self

    # ----------------------------------------------------------------------- inference
    def transform(self, X):
        """Sparse codes of ``X`` (same penalty and alpha as learning, ``transform_iter`` steps).

        Parameters
        ----------
        X : array-like or Tensor, shape (n_samples, n_features)

        Returns
        -------
        ndarray (float32) or Tensor, shape (n_samples, n_atoms)
            A tensor (on the model's device) when ``X`` is one.
        """
        self._check_fitted()
        is_tensor = isinstance(X, torch.Tensor)
        Xt = self._as_tensor(X, n_features=self.n_features_in_)
        codes = torch.cat([infer_codes(chunk, self._D, self.alpha, self.penalty,
                                       self.transform_iter)
                           for chunk in torch.split(Xt, 65536)])
        return codes if is_tensor else self._to_numpy(codes, X)

    def inverse_transform(self, codes):
        """Reconstructions ``codes @ dictionary_``.

        Parameters
        ----------
        codes : array-like or Tensor, shape (n_samples, n_atoms)

        Returns
        -------
        ndarray (float32) or Tensor, shape (n_samples, n_features)
        """
        self._check_fitted()
        is_tensor = isinstance(codes, torch.Tensor)
        C = self._as_tensor(codes, name="codes", n_features=self.n_atoms)
        out = C @ self._D.T
        return out if is_tensor else self._to_numpy(out, codes)

    def objective(self, X, codes=None) -> float:
        """Mean of ``1/2 ||x - Phi a||^2 + alpha S(a)`` over the rows of ``X``.

        ``codes`` default to :meth:`transform` ``(X)``.
        """
        self._check_fitted()
        Xt = self._as_tensor(X, n_features=self.n_features_in_)
        C = self._as_tensor(self.transform(Xt) if codes is None else codes, name="codes",
                            n_features=self.n_atoms)
        return float(sparse_objective(Xt, C, self._D, self.alpha, self.penalty))

    def score(self, X, y=None) -> float:
        """Minus :meth:`objective` (higher is better, as scikit-learn's model selection wants)."""
        return -self.objective(X)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_D")
