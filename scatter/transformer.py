"""A scikit-learn transformer computing scattering features."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import check_choice, check_int

from .features import extract_features


class ScatteringTransformer(TransformerMixin, BaseEstimator):
    """Scattering coefficients as features, for scikit-learn pipelines.

    Wraps :class:`scatter.Scattering2D` (``len(shape) == 2``) or :class:`scatter.Scattering1D`
    (``len(shape) == 1``). ``fit`` only builds the network; ``transform`` pushes the samples
    through it in batches (with a progress bar when there are many) and flattens the coefficients.

    Parameters
    ----------
    J : int
        Number of scales.
    shape : tuple of int
        Signal shape ``(N,)`` or image shape ``(M, N)``. Rows of ``X`` are reshaped to it.
    L : int
        Orientations (2D).
    Q : int or tuple
        Wavelets per octave (1D).
    T : int, optional
        Averaging scale (1D).
    max_order : {1, 2}
    bank : FilterBank or callable, optional
        Filters (see the networks); default Morlet.
    log : bool
        Return ``log(|S| + eps)`` (log-scattering), which often linearises class differences.
    batch_size : int
        Samples per forward pass: bounds the memory used.
    device : str
        Torch device, e.g. ``'cpu'`` or ``'cuda'``.
    dtype : {'float32', 'float64'}
    progress : {'auto', True, False}
        Show a tqdm bar (``'auto'``: when there are more than 10 batches).

    Attributes
    ----------
    scattering_ : torch.nn.Module
        The network (built by ``fit`` or on first ``transform``).
    n_features_in_ : int
        ``prod(shape)``.

    Examples
    --------
    >>> from scatter import ScatteringTransformer
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_digits(return_X_y=True)
    >>> model = make_pipeline(ScatteringTransformer(J=1, shape=(8, 8)), LogisticRegression(max_iter=2000))
    >>> model.fit(X[:1000], y[:1000]).score(X[1000:], y[1000:]) > 0.9
    True
    """

    def __init__(self, J: int = 2, shape=None, L: int = 8, Q=1, T=None, max_order: int = 2,
                 bank=None, log: bool = False, batch_size: int = 256, device: str = "cpu",
                 dtype: str = "float32", progress="auto") -> None:
        self.J = J
        self.shape = shape
        self.L = L
        self.Q = Q
        self.T = T
        self.max_order = max_order
        self.bank = bank
        self.log = log
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # fit learns nothing
        return tags

    def _build(self):
        if self.shape is None:
            raise ValueError("shape must be given: (N,) for signals or (M, N) for images")
        shape = tuple(np.atleast_1d(self.shape).tolist())
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_choice("progress", self.progress, ("auto", True, False))
        check_int("batch_size", self.batch_size, minimum=1)
        if len(shape) == 2:
            from .scattering2d import Scattering2D

            net = Scattering2D(self.J, shape, L=self.L, max_order=self.max_order, bank=self.bank)
        elif len(shape) == 1:
            from .scattering1d import Scattering1D

            net = Scattering1D(self.J, shape, Q=self.Q, T=self.T, max_order=self.max_order, bank=self.bank)
        else:
            raise ValueError(f"shape must have 1 or 2 dimensions, got {shape!r}")
        self.scattering_ = net.to(device=self.device, dtype=getattr(torch, self.dtype))
        self.n_features_in_ = int(np.prod(shape))
        self._shape = shape
        return self

    def fit(self, X=None, y=None):
        """Build the network (nothing is learned). Returns ``self``."""
        return self._build()

    def transform(self, X) -> np.ndarray:
        """Scattering features of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, *shape) or (n_samples, prod(shape))

        Returns
        -------
        ndarray, shape (n_samples, n_features_out), the module's dtype
        """
        if not hasattr(self, "scattering_"):
            self._build()
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
            raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
        n = X.shape[0] if X.ndim else 0
        if X.ndim == 2 and X.shape[1] == self.n_features_in_:
            X = X.reshape((n,) + self._shape)
        if X.shape[1:] != self._shape:
            raise ValueError(f"X must have shape (n_samples, {self.n_features_in_}) or "
                             f"(n_samples, {', '.join(map(str, self._shape))}), got {X.shape}")
        features = extract_features(X.astype(self.dtype, copy=False), self.scattering_,
                                    batch_size=self.batch_size, device=self.device,
                                    normalize="log" if self.log else None, progress=self.progress,
                                    dtype=getattr(torch, self.dtype))
        return np.asarray(features).reshape(n, -1)
