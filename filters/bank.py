"""The filter-bank type shared by every filter family of the library."""
from __future__ import annotations

import types
from typing import Any, Mapping

import numpy as np

from .._validation import check_choice


class FilterBank:
    """A bank of band-pass filters and one low-pass filter, sampled in the Fourier domain.

    Every family of the library (Morlet, Gabor, log-Gabor, curvelet, discrete wavelets) builds
    one of these; the scattering networks of :mod:`scatter` consume any of them.

    Parameters
    ----------
    psi : ndarray, shape (K, *shape)
        The K band-pass filters, sampled on the unshifted DFT grid of ``shape`` (1D, 2D or 3D;
        index 0 is the
        zero frequency, as :func:`numpy.fft.fftn` orders it). Real (float64) when every filter
        has a real Fourier transform (even-envelope wavelets such as Morlet), complex128 otherwise.
    phi : ndarray, shape (*shape), or None
        The low-pass filter on the same grid (``None`` for a bank without one).
    meta : mapping of str to array-like of length K
        Per-filter metadata. Conventional keys (families add their own):

        - ``'j'`` (int): dyadic scale index, ``0`` is the finest;
        - ``'theta'`` (int): angle index (2D); ``'angle'`` (float): orientation in radians;
        - ``'xi'`` (float): centre frequency in cycles per sample (in 1D and 2D alike);
        - ``'sigma'`` (float): width of the spatial envelope in samples;
        - ``'order'`` (int): 1 or 2 when the filter is meant for one scattering order only,
          0 when it serves both (the default when absent);
        - ``'l'``, ``'m'`` (int): degree and order of a 3D solid harmonic wavelet.
    name : str
        Family name, e.g. ``'morlet'``.
    params : mapping
        The constructor's parameters, for provenance and plotting.
    phi_meta : mapping, optional
        Metadata of the low-pass (e.g. ``{'j': J, 'sigma': ...}``).

    Notes
    -----
    Filters are designed in float64 NumPy and converted to torch once per device and dtype by
    :meth:`to_torch`. The transform of a signal ``x`` by filter ``k`` is
    ``ifftn(fftn(x) * psi[k])``: a circular convolution on the grid.

    A bank is immutable: networks and :meth:`to_torch` cache work prepared from it, which an
    edit would leave stale. The constructor keeps its own read-only copies of ``psi``, ``phi``
    and every ``meta`` array (editing the arrays it was built from changes nothing), ``meta``,
    ``params`` and ``phi_meta`` are read-only mappings, and assigning an attribute raises
    :class:`AttributeError`. Build a modified bank with :meth:`replace` (or a new
    ``FilterBank``) instead.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from scatter import filters
    >>> bank = filters.morlet_2d((32, 32), J=2, L=4)
    >>> bank.psi.shape, bank.psi.dtype, bank.phi.shape        # (K, *shape), Fourier domain
    ((8, 32, 32), dtype('float64'), (32, 32))
    >>> bank.meta["j"].tolist(), bank.meta["theta"].tolist()
    ([0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 2, 3, 0, 1, 2, 3])
    >>> weights = bank.to_torch(dtype=torch.float32)           # once per device and dtype
    >>> weights["psi"].shape, weights["psi"].dtype
    (torch.Size([8, 32, 32]), torch.float32)
    >>> spatial, low_pass = bank.spatial()                     # centred, complex128
    >>> spatial.shape, spatial.dtype
    ((8, 32, 32), dtype('complex128'))

    Any family can be wrapped: a 1D bank of two Gaussian band-pass filters.

    >>> k = np.fft.fftfreq(16)
    >>> psi = np.stack([np.exp(-(abs(k) - 0.25) ** 2 / 0.005), np.exp(-(abs(k) - 0.125) ** 2 / 0.002)])
    >>> toy = filters.FilterBank(psi, None, {"j": [0, 1]}, name="toy")
    >>> toy.shape, toy.ndim, toy.is_real
    ((16,), 1, True)

    Banks are immutable; :meth:`replace` builds a modified copy.

    >>> toy.psi[0, 0] = 1.0
    Traceback (most recent call last):
        ...
    ValueError: assignment destination is read-only
    >>> louder = toy.replace(psi=2 * toy.psi)
    >>> float(louder.psi.max() / toy.psi.max())
    2.0
    """

    def __init__(self, psi: np.ndarray, phi: np.ndarray | None, meta: Mapping[str, Any],
                 name: str = "custom", params: Mapping[str, Any] | None = None,
                 phi_meta: Mapping[str, Any] | None = None) -> None:
        psi = np.asarray(psi)
        if psi.ndim < 2:
            raise ValueError(f"psi must have shape (K, *shape) with a 1D, 2D or 3D grid, got {psi.shape}")
        if psi.ndim - 1 not in (1, 2, 3):
            raise ValueError(f"psi must sample a 1D, 2D or 3D grid, got shape {psi.shape}")
        if not np.all(np.isfinite(psi)):
            raise ValueError("psi contains NaN or inf values")
        # own read-only copies: later edits of the caller's arrays cannot reach the bank
        psi = _frozen_float64(psi)
        if phi is not None:
            phi = _frozen_float64(np.asarray(phi))
            if phi.shape != psi.shape[1:]:
                raise ValueError(f"phi has shape {phi.shape}, expected the grid shape {psi.shape[1:]}")
            if not np.all(np.isfinite(phi)):
                raise ValueError("phi contains NaN or inf values")
        meta = {key: _frozen(np.array(value)) for key, value in dict(meta).items()}
        for key, value in meta.items():
            if value.shape[:1] != (psi.shape[0],):
                raise ValueError(f"meta[{key!r}] has length {value.shape[:1]}, expected one entry "
                                 f"per filter ({psi.shape[0]})")
        fields = {"psi": psi, "phi": phi, "meta": types.MappingProxyType(meta), "name": name,
                  "params": _freeze_mapping(params or {}),
                  "phi_meta": _freeze_mapping(phi_meta or {})}
        for key, value in fields.items():
            object.__setattr__(self, key, value)  # the only way in: __setattr__ refuses
        self._torch_cache: dict = {}

    # --------------------------------------------------------------------------- immutability
    _FIELDS = ("psi", "phi", "meta", "name", "params", "phi_meta")

    def __setattr__(self, name: str, value) -> None:
        # private attributes stay settable: caches kept on the bank by library code (to_torch's,
        # the networks' prepared filters) are derived from it and never change what it is
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"cannot set {name!r}: FilterBank objects are immutable (networks cache "
                             f"work prepared from them); build a modified bank with "
                             f"bank.replace({name}=...) or a new FilterBank(...)")

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
            return
        raise AttributeError(f"cannot delete {name!r}: FilterBank objects are immutable")

    def __getstate__(self) -> dict:
        # read-only mappings do not pickle (nor deep-copy): store them as plain dicts
        return {key: _thaw(value) for key, value in self.__dict__.items()}

    def __setstate__(self, state: dict) -> None:
        for key, value in state.items():
            if key in self._FIELDS:  # unpickled arrays come back writeable: freeze them again
                value = (_frozen(value) if isinstance(value, np.ndarray) else
                         _freeze_mapping(value) if isinstance(value, dict) else value)
            object.__setattr__(self, key, value)

    def replace(self, **changes) -> "FilterBank":
        """A new bank with some constructor arguments changed, the others taken from this one.

        Parameters
        ----------
        **changes
            Any of ``psi``, ``phi``, ``meta``, ``name``, ``params``, ``phi_meta`` (as in the
            constructor). A ``psi`` with another number of filters needs a matching ``meta``.

        Returns
        -------
        FilterBank
            Of the same class as this bank, validated and frozen like any new bank; this bank
            and the caches built from it are unchanged.

        Examples
        --------
        >>> from scatter import filters
        >>> bank = filters.morlet_2d((32, 32), J=2, L=4)
        >>> no_lowpass = bank.replace(phi=None, name="morlet without phi")
        >>> no_lowpass.phi is None, bank.phi is None, len(no_lowpass)
        (True, False, 8)
        """
        unknown = sorted(set(changes) - set(self._FIELDS))
        if unknown:
            raise TypeError(f"replace() got unknown argument(s) {unknown}; accepted: "
                            f"{list(self._FIELDS)}")
        args = {key: getattr(self, key) for key in self._FIELDS}
        args.update(changes)
        return type(self)(**args)

    # ----------------------------------------------------------------------------- basic facts
    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape ``(N,)``, ``(M, N)`` or ``(M, N, O)``."""
        return tuple(self.psi.shape[1:])

    @property
    def ndim(self) -> int:
        """Number of grid dimensions (1, 2 or 3)."""
        return self.psi.ndim - 1

    @property
    def is_real(self) -> bool:
        """Whether every filter has a real Fourier transform (stored as float64)."""
        return not np.iscomplexobj(self.psi) and (self.phi is None or not np.iscomplexobj(self.phi))

    def __len__(self) -> int:
        return self.psi.shape[0]

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.meta))
        return (f"FilterBank(name={self.name!r}, shape={self.shape}, n_filters={len(self)}, "
                f"lowpass={self.phi is not None}, meta=[{keys}])")

    # -------------------------------------------------------------------------- frame bounds
    def littlewood_paley(self, include_lowpass: bool = True, real_signals: bool = True) -> np.ndarray:
        """Littlewood-Paley sum ``A(w) = |phi(w)|^2 + sum_k |psi_k(w)|^2`` on the grid.

        Parameters
        ----------
        include_lowpass : bool
            Add ``|phi|^2`` (the bank as used by a scattering network) or not.
        real_signals : bool
            Symmetrise the band-pass part, ``(|psi_k(w)|^2 + |psi_k(-w)|^2) / 2``: the bound that
            holds for real inputs, which a bank covering one half-plane of orientations (Morlet,
            ``theta`` in ``[0, pi)``) needs.

        Returns
        -------
        ndarray, float64, shape (*shape)
            By Parseval, ``sum_k ||x * psi_k||^2 + ||x * phi||^2 = (1/N) sum_w A(w) |x^(w)|^2``
            with ``N`` the number of grid points.
        """
        energy = np.abs(self.psi) ** 2
        total = energy.sum(axis=0)
        if real_signals:
            total = 0.5 * (total + _flip(total))
        if include_lowpass and self.phi is not None:
            total = total + np.abs(self.phi) ** 2
        return total

    def frame_bounds(self, include_lowpass: bool = True, real_signals: bool = True) -> tuple[float, float]:
        """Lower and upper frame bounds ``(min A, max A)`` of :meth:`littlewood_paley`.

        For every signal ``x`` on the grid (real when ``real_signals``)::

            A_min ||x||^2 <= sum_k ||x * psi_k||^2 + ||x * phi||^2 <= A_max ||x||^2
        """
        lp = self.littlewood_paley(include_lowpass=include_lowpass, real_signals=real_signals)
        return float(lp.min()), float(lp.max())

    # ------------------------------------------------------------------------------- views
    def spatial(self, centered: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The filters in space: inverse DFT of :attr:`psi` and :attr:`phi`.

        Parameters
        ----------
        centered : bool
            Move the origin to the centre of the grid (``fftshift``), as one plots filters.

        Returns
        -------
        psi : ndarray, complex128, shape (K, *shape)
        phi : ndarray, shape (*shape), or None
        """
        axes = tuple(range(1, self.ndim + 1))
        psi = np.fft.ifftn(self.psi, axes=axes)
        phi = None if self.phi is None else np.fft.ifftn(self.phi)
        if centered:
            psi = np.fft.fftshift(psi, axes=axes)
            phi = None if phi is None else np.fft.fftshift(phi)
        return psi, phi

    def to_torch(self, device=None, dtype=None) -> dict:
        """The bank as torch tensors on ``device``, converted once and cached.

        Parameters
        ----------
        device : str or torch.device, optional
            Defaults to the CPU.
        dtype : torch.float32 or torch.float64, optional
            Real precision (default float32). Complex filters get the matching complex dtype.

        Returns
        -------
        dict
            ``{'psi': Tensor (K, *shape), 'phi': Tensor (*shape) or None}``: the cached tensors,
            shared by every caller (torch has no read-only tensors: do not modify them in
            place; build a new bank instead).
        """
        import torch

        dtype = torch.float32 if dtype is None else dtype
        check_choice("dtype", dtype, (torch.float32, torch.float64))
        device = torch.device("cpu" if device is None else device)
        key = (str(device), dtype)
        if key not in self._torch_cache:
            def convert(array):
                if array is None:
                    return None
                target = dtype if not np.iscomplexobj(array) else (
                    torch.complex64 if dtype == torch.float32 else torch.complex128)
                # a copy: a tensor sharing the read-only array's memory could write to it
                return torch.tensor(array, dtype=target, device=device)

            self._torch_cache[key] = {"psi": convert(self.psi), "phi": convert(self.phi)}
        return self._torch_cache[key]

    def select(self, mask) -> "FilterBank":
        """A new bank holding the filters where ``mask`` (bool array of length K) is true."""
        mask = np.asarray(mask)
        return FilterBank(self.psi[mask], self.phi, {k: v[mask] for k, v in self.meta.items()},
                          name=self.name, params=self.params, phi_meta=self.phi_meta)

    def plot(self, max_filters: int = 16, **kwargs):
        """Draw the bank: spatial real/imag/modulus of some filters and the Fourier tiling.

        See :func:`scatter.filters.plot_bank`. Returns the matplotlib figure.
        """
        from .plotting import plot_bank

        return plot_bank(self, max_filters=max_filters, **kwargs)


def _frozen_float64(array: np.ndarray) -> np.ndarray:
    """A read-only float64 (complex128 if complex) copy of ``array``, always a new buffer."""
    return _frozen(np.array(array, dtype=np.complex128 if np.iscomplexobj(array) else np.float64))


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` marked read-only (in place; callers pass arrays they own)."""
    array.flags.writeable = False
    return array


def _freeze(value):
    """A read-only version of a params/phi_meta value: arrays copied read-only, lists as tuples,
    mappings as read-only mappings; anything else as it is."""
    if isinstance(value, np.ndarray):
        return _frozen(value.copy())
    if isinstance(value, list) or type(value) is tuple:
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return _freeze_mapping(value)
    return value


def _freeze_mapping(mapping: Mapping) -> types.MappingProxyType:
    return types.MappingProxyType({key: _freeze(value) for key, value in dict(mapping).items()})


def _thaw(value):
    """Read-only mappings as plain dicts, recursively (for pickling and deep copies)."""
    if isinstance(value, types.MappingProxyType):
        return {key: _thaw(v) for key, v in value.items()}
    if type(value) is tuple:
        return tuple(_thaw(v) for v in value)
    return value


def _flip(array: np.ndarray) -> np.ndarray:
    """``array(-w)`` on the DFT grid: index ``k`` goes to ``(-k) mod n`` on every axis."""
    out = array
    for axis in range(array.ndim):
        out = np.roll(np.flip(out, axis=axis), 1, axis=axis)
    return out
