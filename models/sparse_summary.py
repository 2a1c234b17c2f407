"""What a learned sparse-coding dictionary looks like: Gabor statistics of its atoms, code
statistics, reconstruction error, and a figure of the atoms."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..filters.gabor_fit import GaborFit, fit_gabor

__all__ = ["ORIENTATION_BIN_DEG", "FREQUENCY_EDGES", "atoms_as_images", "dictionary_summary",
           "plot_dictionary"]

ORIENTATION_BIN_DEG = 22.5
#: Octave bins of carrier frequency, cycles/pixel (the last bin ends at Nyquist).
FREQUENCY_EDGES = (0.0, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 0.5)


def atoms_as_images(dictionary: np.ndarray, patch_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Atoms ``(n_atoms, h * w)`` reshaped to ``(n_atoms, h, w)`` (square when no shape given)."""
    dictionary = np.asarray(dictionary, dtype=np.float64)
    if dictionary.ndim == 3:
        return dictionary
    if dictionary.ndim != 2:
        raise ValueError(f"dictionary must have shape (n_atoms, n_features), got {dictionary.shape}")
    if patch_shape is None:
        side = math.isqrt(dictionary.shape[1])
        if side * side != dictionary.shape[1]:
            raise ValueError(f"dictionary has {dictionary.shape[1]} features, not a square patch: "
                             "give patch_shape")
        patch_shape = (side, side)
    return dictionary.reshape(dictionary.shape[0], *patch_shape)


def _kurtosis(values: np.ndarray) -> float:
    v = values - values.mean()
    var = (v * v).mean()
    return float((v ** 4).mean() / var ** 2 - 3.0) if var > 0 else 0.0


def _entropy_bits(codes: np.ndarray, bin_width: float = 0.1, clip: float = 20.0) -> float:
    """Mean over atoms of the entropy (bits) of the atom's code divided by its std, quantised
    in bins of ``bin_width`` (a Gaussian code gives about 5.37 bits, a sparser one less)."""
    std = codes.std(axis=0)
    used = std > 0
    if not used.any():
        return 0.0
    z = np.clip(codes[:, used] / std[used], -clip, clip)
    q = np.round(z / bin_width).astype(np.int64)
    q -= q.min()
    ent = []
    for col in q.T:
        p = np.bincount(col) / col.size
        p = p[p > 0]
        ent.append(-(p * np.log2(p)).sum())
    return float(np.mean(ent))


def dictionary_summary(dictionary: np.ndarray, codes: np.ndarray | None = None,
                       patches: np.ndarray | None = None, patch_shape: tuple[int, int] | None = None,
                       fit: GaborFit | None = None, r2_threshold: float = 0.8,
                       active_threshold: float = 1e-6) -> dict:
    """Gabor and code statistics of a dictionary, as Olshausen & Field report them.

    Parameters
    ----------
    dictionary : ndarray, shape (n_atoms, n_features) or (n_atoms, h, w)
        Atoms as rows (``SparseCoding.dictionary_``, scikit-learn's ``components_``).
    codes : ndarray, shape (n_samples, n_atoms), optional
        Codes of ``patches``: adds kurtosis, entropy, active fraction.
    patches : ndarray, shape (n_samples, n_features), optional
        With ``codes``: adds the relative reconstruction error.
    patch_shape : (int, int), optional
        Atom shape when ``dictionary`` is flat and not square.
    fit : GaborFit, optional
        A fit of these atoms already made (else :func:`scatter.filters.fit_gabor` is run).
    r2_threshold : float
        R^2 above which an atom counts as Gabor-like in the histograms.
    active_threshold : float
        A coefficient is active when ``|a| > active_threshold * max|a|``. The L1 penalty gives
        exact zeros (keep the default); the log prior's codes are only small, so pass e.g. 0.01.

    Returns
    -------
    dict
        ``'gabor_fraction_r2_0.8'``, ``'gabor_fraction_r2_0.9'``: fraction of atoms with
        R^2 above 0.8, 0.9; ``'gabor_fraction_r2_0.8_freq_1/16'``: with R^2 > 0.8 and
        frequency >= 1/16 cycle/pixel; ``'median_r2'``; ``'orientation_edges_deg'`` and
        ``'orientation_hist'``: counts of Gabor-like atoms (R^2 > ``r2_threshold``) per
        22.5-degree bin of theta in [0, 180); ``'orientation_min_over_max'``: smallest over
        largest bin count; ``'frequency_edges'``, ``'frequency_hist'``: counts of Gabor-like
        atoms per octave of frequency (cycles/pixel); ``'fit'``: the :class:`GaborFit`.
        With ``codes``: ``'code_kurtosis'`` (excess kurtosis of all coefficients pooled),
        ``'code_entropy_bits'`` (see below), ``'active_fraction'`` (coefficients with
        ``|a| > active_threshold * max|a|``). With ``patches`` too: ``'relative_mse'`` =
        ``sum ||x - Phi a||^2 / sum ||x||^2``.

    Notes
    -----
    The code entropy is the mean over atoms of the Shannon entropy of the atom's coefficients
    divided by their standard deviation and quantised in bins of 0.1 (a Gaussian code gives
    about 5.37 bits; a sparse code fewer).

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import filters, models
    >>> atoms = filters.gabor_model((8, 8), x0=3.5, y0=3.5, theta=np.linspace(0, 3, 6),
    ...                             frequency=0.25, phase=0.0, sigma_x=1.5, sigma_y=2.0,
    ...                             amplitude=1.0).reshape(6, 64)
    >>> s = models.dictionary_summary(atoms)
    >>> s["n_atoms"], s["gabor_fraction_r2_0.9"]      # Gabor atoms are fitted as Gabors
    (6, 1.0)
    >>> int(s["orientation_hist"].sum())               # all six are oriented
    6
    """
    atoms = atoms_as_images(dictionary, patch_shape)
    fit = fit_gabor(atoms) if fit is None else fit
    r2, p = fit.r2, fit.params
    gabor = r2 > r2_threshold
    theta_deg = np.degrees(p["theta"]) % 180.0
    o_edges = np.arange(0.0, 180.0 + 1e-9, ORIENTATION_BIN_DEG)
    o_hist = np.histogram(theta_deg[gabor], bins=o_edges)[0]
    f_edges = np.asarray(FREQUENCY_EDGES)
    f_hist = np.histogram(np.clip(p["frequency"][gabor], 0, 0.5), bins=f_edges)[0]
    out = {
        "n_atoms": int(atoms.shape[0]),
        "gabor_fraction_r2_0.8": float(np.mean(r2 > 0.8)),
        "gabor_fraction_r2_0.9": float(np.mean(r2 > 0.9)),
        "gabor_fraction_r2_0.8_freq_1/16": float(np.mean((r2 > 0.8) & (p["frequency"] >= 1 / 16))),
        "median_r2": float(np.median(r2)),
        "orientation_edges_deg": o_edges,
        "orientation_hist": o_hist,
        "orientation_min_over_max": float(o_hist.min() / o_hist.max()) if o_hist.max() > 0 else 0.0,
        "frequency_edges": f_edges,
        "frequency_hist": f_hist,
        "fit": fit,
    }
    if codes is not None:
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != atoms.shape[0]:
            raise ValueError(f"codes must have shape (n_samples, {atoms.shape[0]}), got {codes.shape}")
        out["code_kurtosis"] = _kurtosis(codes.ravel())
        out["code_entropy_bits"] = _entropy_bits(codes)
        scale = np.abs(codes).max()
        out["active_fraction"] = (float(np.mean(np.abs(codes) > active_threshold * scale))
                                  if scale > 0 else 0.0)
        if patches is not None:
            patches = np.asarray(patches, dtype=np.float64)
            if patches.shape != (codes.shape[0], atoms[0].size):
                raise ValueError(f"patches must have shape ({codes.shape[0]}, {atoms[0].size}), "
                                 f"got {patches.shape}")
            recon = codes @ atoms.reshape(atoms.shape[0], -1)
            out["relative_mse"] = float(((patches - recon) ** 2).sum() / (patches ** 2).sum())
    return out


def plot_dictionary(dictionary: np.ndarray, path: str | Path | None = None,
                    patch_shape: tuple[int, int] | None = None, r2: np.ndarray | None = None,
                    n_cols: int | None = None, title: str | None = None):
    """Draw the atoms as a grid of images, each divided by its largest magnitude (blue < 0 < red).

    Parameters
    ----------
    dictionary : ndarray, shape (n_atoms, n_features) or (n_atoms, h, w)
    path : str or Path, optional
        Save the figure there (PNG, atomically) and return None; else return the figure (not
        registered with ``pyplot``).
    patch_shape : (int, int), optional
    r2 : ndarray (n_atoms,), optional
        Gabor R^2 of each atom: atoms are sorted by it and those at or below 0.8 framed.
    n_cols : int, optional
        Columns of the grid (default about sqrt(n_atoms)).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure or None (when saved)

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import models
    >>> atoms = np.random.default_rng(0).standard_normal((16, 64))
    >>> fig = models.plot_dictionary(atoms, n_cols=4)           # 16 atoms of 8 x 8
    >>> len(fig.axes) >= 16
    True
    """
    from matplotlib.figure import Figure

    from .._files import atomic_output
    from ..filters import _style as style

    atoms = atoms_as_images(dictionary, patch_shape)
    order = np.argsort(-r2) if r2 is not None else np.arange(atoms.shape[0])
    n = atoms.shape[0]
    n_cols = n_cols or int(math.ceil(math.sqrt(n)))
    n_rows = int(math.ceil(n / n_cols))
    fig = Figure(figsize=(max(n_cols * 0.5 + 1.2, 3.5), n_rows * 0.5 + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    shown = None
    for ax, k in zip(axes, order):
        atom = atoms[k]
        shown = ax.imshow(atom / (np.abs(atom).max() or 1.0), cmap=style.SIGNED, vmin=-1, vmax=1,
                          interpolation="nearest")
        if r2 is not None and r2[k] <= 0.8:
            ax.set_frame_on(True)
            for spine in ax.spines.values():
                spine.set_color("black")
                spine.set_linewidth(1.5)
    style.colorbar(fig, shown, list(axes), label="atom / max $|\\cdot|$", shrink=0.6)
    if title or r2 is not None:
        fig.suptitle((title or "") + ("\n" if title and r2 is not None else "")
                     + ("sorted by Gabor fit $R^2$; framed: $R^2 \\leq 0.8$" if r2 is not None else ""),
                     fontsize=9)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        return None
    return fig
