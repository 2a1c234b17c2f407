"""Convolutional dictionary learning: alternating CBPDN sparse coding and a constrained filter update.

Objective (Garcia-Cardona & Wohlberg, "Convolutional dictionary learning: a comparative review
and new algorithms", IEEE TCI 4(3), 2018, eq. 4), over images ``s_k`` and maps ``z_{k,m}``:

    min_{d, z}  ½ Σ_k ‖Σ_m d_m * z_{k,m} − s_k‖² + λ Σ_{k,m} ‖z_{k,m}‖₁
    subject to  d_m supported on h × w pixels,  ‖d_m‖₂ ≤ 1.

The maps are updated by Fourier ADMM (:class:`scatter.models.ConvSparseCoding`, warm-started), the
filters by projected FISTA in the Fourier domain (Sec. IV-B of that review: gradient on the
zero-padded filters, cropped to the support and projected on the unit ball). ``partial_fit``
makes one such alternation on a mini-batch (the mini-batch / online mode).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import Tensor

from .._validation import check_choice, check_float, check_int

from .csc import ConvSparseCoding, csc_objective, csc_reconstruct

__all__ = ["ConvDictionaryLearning"]


class ConvDictionaryLearning(BaseEstimator):
    """Learn a convolutional dictionary from whole images (scikit-learn conventions).

    Parameters
    ----------
    n_filters : int
        Number M of filters.
    filter_size : int
        Side h = w of the square filters.
    lmbda : float
        ℓ1 weight λ of the sparse coding (also used by :meth:`transform`).
    n_iter : int
        Outer alternations (``fit``) or mini-batch steps (``fit`` with ``batch_size``).
    batch_size : int, optional
        ``None``: every alternation uses all images; otherwise ``fit`` draws mini-batches of
        this size (the online mode; :meth:`partial_fit` makes one step on the images given).
    coding_iter : int
        ADMM iterations per sparse-coding step (warm-started between alternations).
    dict_iter : int
        Projected-FISTA iterations per dictionary step.
    init : {'patches', 'random'}
        Initial filters: random image patches (zero mean, unit norm; filters that start
        uncorrelated with the images are thresholded away and never learn) or Gaussian noise.
    zero_mean : bool
        Constrain the filters to zero mean as well (the filter step projects on
        {mean 0, ‖d‖ ≤ 1}): the mean of a patch-sized window is left to the smooth part of
        the image, and flat "blob" filters cannot form.
    reseed : bool
        After each filter step, replace every filter whose maps were all zero in that step
        (an unused atom: its gradient is zero, so it never learns) by the zero-mean, unit-norm
        patch of the current residual with the most energy (Mairal et al., JMLR 2010, Sec. 4.1
        use the same remedy for patch dictionaries).
    device : str or torch.device, optional
        Where to compute (default: CPU).
    dtype : {'float32', 'float64'}
        Computation precision.
    random_state : int, optional
        Seed of the initial filters and of the mini-batch draws.

    Attributes
    ----------
    dictionary_ : ndarray, shape (M, C, h, w), float64
        Learned filters (unit norm at most).
    history_ : list of float
        Objective (sum over the images coded in that step) after each sparse-coding step.
    n_steps_ : int
        Number of alternations made.

    Notes
    -----
    Images should be high-passed first (:func:`scatter.models.tikhonov_split`): small filters cannot
    represent the smooth part.

    Examples
    --------
    >>> import torch
    >>> from scatter import models
    >>> images = torch.randn(3, 1, 24, 24)                      # (N, C, H, W), high-passed
    >>> cdl = models.ConvDictionaryLearning(n_filters=4, filter_size=5, n_iter=2,
    ...                                     random_state=0).fit(images)
    >>> cdl.dictionary_.shape, cdl.dictionary_.dtype
    ((4, 1, 5, 5), dtype('float64'))
    >>> cdl.transform(images).shape                              # sparse maps (N, M, H, W)
    torch.Size([3, 4, 24, 24])
    """

    def __init__(self, n_filters: int = 32, filter_size: int = 8, lmbda: float = 0.1,
                 n_iter: int = 20, batch_size: int | None = None, coding_iter: int = 20,
                 dict_iter: int = 10, init: str = "patches", zero_mean: bool = True,
                 reseed: bool = True, device=None, dtype: str = "float32",
                 random_state: int | None = None) -> None:
        self.n_filters = n_filters
        self.filter_size = filter_size
        self.lmbda = lmbda
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.coding_iter = coding_iter
        self.dict_iter = dict_iter
        self.init = init
        self.zero_mean = zero_mean
        self.reseed = reseed
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _validate(self) -> None:
        check_int("n_filters", self.n_filters, minimum=1)
        check_int("filter_size", self.filter_size, minimum=1)
        check_float("lmbda", self.lmbda, nonnegative=True)
        check_int("n_iter", self.n_iter, minimum=1)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)
        check_int("coding_iter", self.coding_iter, minimum=1)
        check_int("dict_iter", self.dict_iter, minimum=1)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_choice("init", self.init, ("patches", "random"))
        for name in ("zero_mean", "reseed"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _as_tensor(self, images) -> Tensor:
        if isinstance(images, Tensor):
            x = images.detach()
        else:
            try:
                x = torch.from_numpy(np.ascontiguousarray(np.asarray(images, dtype=np.float64)))
            except (ValueError, TypeError):
                raise TypeError("images must be an array (N, H, W) or (N, C, H, W) of equal-size "
                                "images") from None
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4:
            raise ValueError(f"images must have shape (N, H, W) or (N, C, H, W), "
                             f"got {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.filter_size:
            raise ValueError(f"filter_size={self.filter_size} is larger than the images "
                             f"{tuple(x.shape[-2:])}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("images contains NaN or inf values")
        return x.to(device=self.device or "cpu", dtype=getattr(torch, self.dtype))

    def _init_dictionary(self, channels: int, like: Tensor) -> Tensor:
        rng = np.random.default_rng(self.random_state)
        k = self.filter_size
        if self.init == "patches":
            n, _, H, W = like.shape
            idx = rng.integers(0, n, self.n_filters)
            ys = rng.integers(0, H - k + 1, self.n_filters)
            xs = rng.integers(0, W - k + 1, self.n_filters)
            d = np.stack([like[i, :, y:y + k, x:x + k].double().cpu().numpy()
                          for i, y, x in zip(idx, ys, xs)])
            d += 1e-6 * rng.standard_normal(d.shape)   # flat patches stay normalisable
        else:
            d = rng.standard_normal((self.n_filters, channels, k, k))
        d -= d.mean(axis=(1, 2, 3), keepdims=True)
        d /= np.linalg.norm(d.reshape(self.n_filters, -1), axis=1)[:, None, None, None]
        return torch.from_numpy(d).to(device=like.device, dtype=like.dtype)

    def _coder(self, D: Tensor, max_iter: int) -> ConvSparseCoding:
        return ConvSparseCoding(D, self.lmbda, max_iter=max_iter, tol=0.0, history=False)

    def _step(self, D: Tensor, s: Tensor, state: dict | None) -> tuple[Tensor, dict, float]:
        """One alternation on images ``s``: code (warm-started), then update the filters."""
        res = self._coder(D, self.coding_iter).solve(s, state=state)
        # The filter step sees the maps with the filters of this step.
        D = _dictionary_step(D, res.maps, s, self.dict_iter, self.zero_mean)
        obj = float(csc_objective(D, res.maps, s, self.lmbda).sum())
        state = res.state
        if self.reseed:
            unused = (res.maps == 0).flatten(2).all(2).all(0)          # (M,)
            if bool(unused.any()):
                D, state = _reseed(D, res.maps, s, unused, state)
        return D, state, obj

    # ------------------------------------------------------------------ estimator API
    def fit(self, images, y=None) -> "ConvDictionaryLearning":
        """Learn the filters from images (N, H, W) or (N, C, H, W); returns ``self``."""
        self._validate()
        s = self._as_tensor(images)
        D = self._init_dictionary(s.shape[1], s)
        self.history_ = []
        self.n_steps_ = 0
        if self.batch_size is None:
            state = None
            for _ in range(self.n_iter):
                D, state, obj = self._step(D, s, state)
                self.history_.append(obj)
            self.n_steps_ = self.n_iter
            self.dictionary_ = D.double().cpu().numpy()
            return self
        self.dictionary_ = D.double().cpu().numpy()
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.n_iter):
            idx = rng.choice(s.shape[0], size=min(self.batch_size, s.shape[0]), replace=False)
            self.partial_fit(s[torch.as_tensor(idx, device=s.device)])
        return self

    def partial_fit(self, images, y=None) -> "ConvDictionaryLearning":
        """One alternation (code, then update the filters) on a mini-batch; returns ``self``."""
        self._validate()
        s = self._as_tensor(images)
        if not hasattr(self, "dictionary_"):
            D = self._init_dictionary(s.shape[1], s)
            self.history_, self.n_steps_ = [], 0
        else:
            D = torch.from_numpy(self.dictionary_).to(s)
            if D.shape[1] != s.shape[1]:
                raise ValueError(f"images have {s.shape[1]} channel(s), the dictionary "
                                 f"{D.shape[1]}")
        D, _, obj = self._step(D, s, None)
        self.history_.append(obj)
        self.n_steps_ += 1
        self.dictionary_ = D.double().cpu().numpy()
        return self

    def transform(self, images, max_iter: int = 200) -> Tensor:
        """Sparse maps (N, M, H, W) of images with the learned filters and the same λ."""
        if not hasattr(self, "dictionary_"):
            raise ValueError("this ConvDictionaryLearning is not fitted yet: call fit first")
        s = self._as_tensor(images)
        D = torch.from_numpy(self.dictionary_).to(s)
        return ConvSparseCoding(D, self.lmbda, max_iter=max_iter, history=False).solve(s).maps


def _dictionary_step(D: Tensor, maps: Tensor, s: Tensor, n_iter: int,
                     zero_mean: bool = False) -> Tensor:
    """Projected FISTA on ½ Σ_k ‖Σ_m d_m * z_{k,m} − s_k‖² over supported, unit-ball filters
    (of zero mean if ``zero_mean``).

    Parameters
    ----------
    D : Tensor, shape (M, C, h, w)
    maps : Tensor, shape (B, M, H, W)
    s : Tensor, shape (B, C, H, W)

    Returns
    -------
    Tensor, shape (M, C, h, w)
    """
    M, C, h, w = D.shape
    shape = tuple(s.shape[-2:])
    Xf = torch.fft.rfft2(maps)                     # (B, M, H, Wr)
    Sf = torch.fft.rfft2(s)
    L = torch.clamp_min(_lipschitz(Xf), torch.finfo(s.dtype).tiny)
    Xc = Xf.conj()
    V, t = D, 1.0
    for _ in range(n_iter):
        Vf = torch.fft.rfft2(V, s=shape)
        Rf = torch.einsum("ncyx,bnyx->bcyx", Vf, Xf) - Sf     # residual, per image
        gradf = torch.einsum("bmyx,bcyx->mcyx", Xc, Rf)
        grad = torch.fft.irfft2(gradf, s=shape)[..., :h, :w]   # adjoint of zero-padding
        Dn = _project(V - grad / L, zero_mean)
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        V = Dn + ((t - 1.0) / t_new) * (Dn - D)
        D, t = Dn, t_new
    return D


def _lipschitz(Xf: Tensor) -> Tensor:
    """Lipschitz constant of the filter gradient: max over frequencies of λ_max(Σ_k x_k x_kᴴ),
    x_k the (M,) map spectra of image k, from the smaller of the M×M and B×B Gram matrices
    (the trace bound Σ_{k,m}|X_{k,m}|² can be M times too large, and the steps as small)."""
    B, M = Xf.shape[:2]
    X = Xf.flatten(2)                                        # (B, M, F)
    if B <= M:
        gram = torch.einsum("kmf,lmf->fkl", X.conj(), X)     # (F, B, B)
    else:
        gram = torch.einsum("kmf,knf->fmn", X, X.conj())     # (F, M, M)
    return torch.linalg.eigvalsh(gram)[..., -1].amax()


def _project(D: Tensor, zero_mean: bool = False) -> Tensor:
    """Projection on {‖d_m‖ ≤ 1} (and mean 0: the ball is centred in that subspace, so the
    projection on the intersection is the two projections in turn)."""
    if zero_mean:
        D = D - D.mean((1, 2, 3), keepdim=True)
    norms = torch.linalg.vector_norm(D.flatten(1), dim=1).clamp_min(1.0)
    return D / norms[:, None, None, None]


def _reseed(D: Tensor, maps: Tensor, s: Tensor, unused: Tensor,
            state: dict | None) -> tuple[Tensor, dict | None]:
    """Unused filters ← the zero-mean, unit-norm residual patches of most energy (one per
    filter, at distinct windows); their ADMM state is reset to zero."""
    M, C, h, w = D.shape
    R = s - csc_reconstruct(D, maps)                          # (B, C, H, W)
    # energy of every h×w window (circular, as the model), at its top-left corner
    E = torch.fft.irfft2(torch.fft.rfft2(R.square().sum(1)) *
                         torch.fft.rfft2(torch.ones(h, w, dtype=R.dtype, device=R.device),
                                         s=R.shape[-2:]).conj(), s=R.shape[-2:])
    idx = unused.nonzero()[:, 0]
    order = E.flatten().argsort(descending=True)
    H, W = R.shape[-2:]
    D = D.clone()
    taken: list[tuple[int, int, int]] = []
    for pos in order.tolist():
        if len(taken) == len(idx):
            break
        b, rem = divmod(pos, H * W)
        y, x = divmod(rem, W)
        if any(b == tb and abs((y - ty + H // 2) % H - H // 2) < h
               and abs((x - tx + W // 2) % W - W // 2) < w for tb, ty, tx in taken):
            continue                                          # overlaps a chosen window
        taken.append((b, y, x))
    for m, (b, y, x) in zip(idx.tolist(), taken):
        ys = torch.arange(y, y + h, device=R.device) % H
        xs = torch.arange(x, x + w, device=R.device) % W
        patch = R[b][:, ys][:, :, xs]
        patch = patch - patch.mean()
        D[m] = patch / torch.linalg.vector_norm(patch).clamp_min(torch.finfo(D.dtype).tiny)
    if state is not None:
        state = {k: v.clone() for k, v in state.items()}
        for key in ("x", "y", "u"):
            if key in state:
                state[key][:, idx] = 0
    return D, state
