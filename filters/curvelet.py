"""Curvelet frequency windows (Candès, Demanet, Donoho, Ying 2006) and the curvelet filter bank.

The windows tile the unshifted DFT grid with smooth Cartesian coronae split into angular wedges:

- radial (Meyer type): ``Phi_b(w) = phi(|u_0| / r_b) phi(|u_1| / r_b)`` with ``u = 2 w`` (``w`` in
  cycles per sample, so ``u`` is 1 at the Nyquist frequency), ``phi`` equal to 1 on ``[0, 1]``,
  0 beyond 2, ``r_b = r_1 2^(1-b)`` (``r_1 = 3/8`` with curvelets at the finest scale, 1/3 with
  wavelets). Band ``j`` has ``W_j^2 = Phi_j^2 - Phi_(j+1)^2`` (with
  ``Phi_0 = 1``) and the low-pass is ``Phi_J``: the squares telescope to exactly 1;
- angular: the pseudo-polar coordinate ``s`` runs once around the square (``s = u_1 / u_0`` in the
  cone ``|u_1| <= u_0``, length 8 in all); band ``j`` has ``L_j`` wedges of equal width in ``s``
  with boundaries on the diagonals (``L_j / 4`` per cone, as in CurveLab) and smooth
  ``cos / sin`` transitions spanning a whole wedge, so ``sum_l V_l^2 = 1``;
- parabolic scaling: ``L_j = angles * 2^ceil((S - j - 2) / 2)`` (``S = scales``) doubles every
  other scale, from ``angles`` wedges at the second-coarsest scale.

Scale numbering: ``j = 0`` is the finest band-pass scale and ``j = J - 1 = scales - 2`` the
coarsest; the low-pass is scale ``J``. FDCT/CurveLab numbers scales 1 (coarsest, low-pass) to
``scales`` (finest): **CurveLab scale = scales - j** (``meta['fdct_scale']``).

Periodisation at the edge of the grid: a frequency within ``_BORDER`` (1/4) of Nyquist is shared
between its two periodic representatives (``u`` and ``u - 2 sign(u)``) with smooth weights that sum
to 1, and each squared window there is the weighted sum over the representatives (the Nyquist
index of an even axis is split 1/2, 1/2). The finest wedges, which extend past Nyquist, are thus
smooth on the torus (well localised curvelets, like CurveLab's periodised finest level), the
partition of unity is kept, and ``U_(l + L/2)(w) = U_l(-w)`` holds exactly on the grid.

The angular windows are C-infinity in ``s``; ``s`` itself is C1 (not C2) in the polar angle at
the diagonals, where the cones meet (the windows straddling a diagonal decay a little slower in
space than the others).

References
----------
E. Candès, L. Demanet, D. Donoho, L. Ying, "Fast discrete curvelet transforms", Multiscale Model.
Simul. 5(3), 2006 (windows of section 3.1, parabolic scaling, angle doubling every other scale).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from .._validation import check_choice, check_int, check_shape
from .bank import FilterBank

#: Width (Nyquist units) of the strip along the edges of the frequency grid where the finest
#: wedges are periodised: there each frequency is shared between its two periodic representatives
#: (see :func:`_axis_samples`), so finest curvelets are smooth across the edge of the grid, as the
#: periodised finest wedges of CurveLab are.
_BORDER = 0.25

#: flat-region radius ``r_1`` (Nyquist units) of the finest low-pass ``Phi_1``. With curvelets at
#: the finest scale ``Phi_1`` vanishes where the border strip starts (``2 r_1 = 1 - _BORDER``), so
#: the finest band is 1 on the strip and the periodised wedges keep the partition of unity; with
#: wavelets the finest (isotropic) band covers ``[1/3, 1]`` as in CurveLab's wrapping transform.
_R1 = {"curvelets": 0.5 * (1.0 - _BORDER), "wavelets": 1.0 / 3.0}

#: squared window values below this are dropped (the C-infinity ramps underflow smoothly).
_TINY = 1e-32


def _ramp(x: np.ndarray) -> np.ndarray:
    """C-infinity ramp: 0 for ``x <= 0``, 1 for ``x >= 1``, ``nu(x) + nu(1 - x) = 1``."""
    x = np.clip(x, 0.0, 1.0)
    with np.errstate(divide="ignore", over="ignore"):
        a = np.where(x > 0, np.exp(-1.0 / np.where(x > 0, x, 1.0)), 0.0)
        b = np.where(x < 1, np.exp(-1.0 / np.where(x < 1, 1.0 - x, 1.0)), 0.0)
    return a / (a + b)


def _lowpass_1d_sq(t: np.ndarray) -> np.ndarray:
    """Squared Meyer-type 1D low-pass: 1 on ``[0, 1]``, ``cos^2`` transition, 0 from 2 on."""
    return np.cos(0.5 * np.pi * _ramp(np.abs(t) - 1.0)) ** 2


def pseudo_angle(u0: np.ndarray, u1: np.ndarray) -> np.ndarray:
    """Pseudo-polar angular coordinate ``s`` in ``[-1, 7)`` of the frequency ``(u0, u1)``.

    ``s`` runs around the square counter-clockwise in the ``(axis 0, axis 1)`` plane from the
    direction ``-pi/4``: ``s = u1/u0`` in the cone ``|u1| <= u0``, ``2 - u0/u1`` in ``|u0| <= u1``,
    ``4 + u1/u0`` in ``|u1| <= -u0``, ``6 - u0/u1`` in ``|u0| <= -u1``. It is continuous and
    ``s(-u) = s(u) + 4`` (mod 8). ``s(0) = 0``.
    """
    u0 = np.asarray(u0, dtype=np.float64)
    u1 = np.asarray(u1, dtype=np.float64)
    a0, a1 = np.abs(u0), np.abs(u1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r01 = np.where(u0 != 0, u1 / np.where(u0 != 0, u0, 1.0), 0.0)
        r10 = np.where(u1 != 0, u0 / np.where(u1 != 0, u1, 1.0), 0.0)
    s = np.where(a1 <= a0, np.where(u0 >= 0, r01, 4.0 + r01),
                 np.where(u1 > 0, 2.0 - r10, 6.0 - r10))
    return np.where(s >= 7.0, s - 8.0, s)


def _angle_of_pseudo(s: float) -> float:
    """Orientation ``atan2(w1, w0)`` (radians) of the direction with pseudo-angle ``s``."""
    s = (s + 1.0) % 8.0 - 1.0
    if s < 1.0:
        u = (1.0, s)
    elif s < 3.0:
        u = (2.0 - s, 1.0)
    elif s < 5.0:
        u = (-1.0, 4.0 - s)
    else:
        u = (s - 6.0, -1.0)
    return math.atan2(u[1], u[0])


def n_wedges(scales: int, angles: int, finest: str = "curvelets") -> list[int]:
    """Number of wedges ``L_j`` of each band-pass scale ``j = 0 .. scales-2`` (finest first).

    ``angles`` at the coarsest band-pass scale, doubling every other scale towards the fine end
    (parabolic scaling); 1 at ``j = 0`` with ``finest='wavelets'``.
    """
    counts = [angles * 2 ** math.ceil((scales - j - 2) / 2) for j in range(scales - 1)]
    if finest == "wavelets":
        counts[0] = 1
    return counts


def max_scales(shape: tuple[int, int]) -> int:
    """Largest ``scales`` accepted for a grid: ``min(shape) >= 2 ** (scales + 2)``.

    The coarsest band-pass scale then spans at least 4 frequency samples per axis inside the
    low-pass support, so that its ``angles`` wedges are not degenerate.
    """
    return int(math.floor(math.log2(min(shape)))) - 2


@dataclass
class CurveletWindows:
    """Sparse curvelet windows on the unshifted DFT grid (the design shared by bank and transform).

    Attributes
    ----------
    shape : (int, int)
        Grid shape ``(M, N)``.
    scales, angles : int
        Total number of scales (band-pass scales plus the low-pass) and wedges at the coarsest
        band-pass scale.
    finest : {'curvelets', 'wavelets'}
    counts : list of int
        Wedges per band-pass scale ``j = 0 .. J-1`` (finest first), all orientations.
    index : list of list of ndarray (int64)
        ``index[j][l]``: flat grid indices (row-major) where wedge ``l`` of scale ``j`` is nonzero.
    value : list of list of ndarray (float64)
        ``value[j][l]``: the window ``U_(j,l) >= 0`` at those indices. ``sum U^2 + Phi^2 = 1``.
    lowpass_index, lowpass_value : ndarray
        Same for the low-pass ``Phi_J``.
    angle : list of ndarray (float64)
        Centre orientation of each wedge, radians: its centre frequency is
        ``xi * (cos(angle), sin(angle))`` in (axis 0, axis 1) coordinates.
    xi : list of ndarray (float64)
        Centre radial frequency of each wedge in cycles per sample.
    radius : list of float
        ``r_j`` per scale (Nyquist units), where the radial window of scale ``j`` equals 1.

    Examples
    --------
    >>> from scatter import filters
    >>> w = filters.curvelet_windows((64, 64), scales=3, angles=8)
    >>> w.shape, w.scales, w.angles, w.radius
    ((64, 64), 3, 8, [0.75, 0.375])
    """

    shape: tuple[int, int]
    scales: int
    angles: int
    finest: str
    counts: list[int]
    index: list[list[np.ndarray]] = field(default_factory=list)
    value: list[list[np.ndarray]] = field(default_factory=list)
    lowpass_index: np.ndarray | None = None
    lowpass_value: np.ndarray | None = None
    angle: list[np.ndarray] = field(default_factory=list)
    xi: list[np.ndarray] = field(default_factory=list)
    radius: list[float] = field(default_factory=list)

    @property
    def J(self) -> int:
        """Number of band-pass scales, ``scales - 1``."""
        return self.scales - 1

    def dense(self, j: int, l: int) -> np.ndarray:
        """Window ``(j, l)`` as a dense float64 array of shape ``shape``."""
        out = np.zeros(self.shape[0] * self.shape[1])
        out[self.index[j][l]] = self.value[j][l]
        return out.reshape(self.shape)

    def dense_lowpass(self) -> np.ndarray:
        """The low-pass ``Phi_J`` as a dense float64 array of shape ``shape``."""
        out = np.zeros(self.shape[0] * self.shape[1])
        out[self.lowpass_index] = self.lowpass_value
        return out.reshape(self.shape)


def validate_curvelet_args(shape, scales, angles, finest, real) -> tuple:
    """Check the common arguments of :func:`curvelet_2d` and the transform; return them cleaned."""
    shape = check_shape("shape", shape, 2, minimum=1)
    scales = check_int("scales", scales, minimum=2)
    angles = check_int("angles", angles)
    if angles < 8 or angles % 4:
        raise ValueError(f"angles must be a multiple of 4 and >= 8 (one wedge family per cone of "
                         f"the pseudo-polar grid), got {angles}")
    check_choice("finest", finest, ("curvelets", "wavelets"))
    if not isinstance(real, (bool, np.bool_)):
        raise TypeError(f"real must be a bool, got {real!r}")
    if min(shape) < 2 ** (scales + 2):
        raise ValueError(f"scales={scales} is too many for shape {shape}: need min(shape) >= "
                         f"2**(scales + 2) = {2 ** (scales + 2)} (use scales <= "
                         f"{max(max_scales(shape), 1)}; scales >= 2 needs min(shape) >= 16)")
    return shape, scales, angles, finest, bool(real)


def _axis_samples(n: int, border: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-axis samples ``(index, u, weight)`` of the periodic frequency axis.

    A frequency ``u`` (Nyquist units) within ``border`` of the Nyquist frequency also stands for
    its periodic image ``u - 2 sign(u)`` just beyond the opposite edge: the two representatives
    get weights ``g(|u|)`` and ``1 - g(|u|)``, with ``g`` a smooth ``cos^2`` step from 1 at
    ``1 - border`` to 1/2 at Nyquist (0 at ``1 + border``). The Nyquist index of an even axis gets
    ``u = -1`` and ``u = +1`` with weight 1/2 each.
    """
    k = np.arange(n)
    u = 2.0 * np.fft.fftfreq(n)
    g = np.cos(0.5 * np.pi * _ramp((np.abs(u) - (1.0 - border)) / (2.0 * border))) ** 2
    twin = g < 1.0
    other = u[twin] - 2.0 * np.where(u[twin] > 0, 1.0, -1.0)
    return (np.concatenate([k, k[twin]]), np.concatenate([u, other]),
            np.concatenate([g, 1.0 - g[twin]]))


def curvelet_windows(shape, scales: int, angles: int = 16,
                     finest: str = "curvelets") -> CurveletWindows:
    """Design the sparse curvelet windows of a grid (float64 NumPy).

    Parameters
    ----------
    shape : (int, int)
        Grid shape ``(M, N)``; ``min(shape) >= 2 ** (scales + 2)``.
    scales : int
        Number of scales including the low-pass (CurveLab's ``nbscales``), ``>= 2``.
    angles : int
        Wedges at the coarsest band-pass scale (CurveLab's ``nbangles_coarse``): a multiple of 4,
        ``>= 8``.
    finest : {'curvelets', 'wavelets'}
        Angular wedges at the finest scale, or one isotropic band there.

    Returns
    -------
    CurveletWindows

    Examples
    --------
    >>> from scatter import filters
    >>> w = filters.curvelet_windows((64, 64), scales=3, angles=8)
    >>> w.counts                      # wedges per band-pass scale, finest first
    [16, 8]
    >>> w.index[0][0].dtype, w.value[0][0].dtype
    (dtype('int64'), dtype('float64'))
    """
    shape, scales, angles, finest, _ = validate_curvelet_args(shape, scales, angles, finest, True)
    M, N = shape
    J = scales - 1
    counts = n_wedges(scales, angles, finest)
    r1 = _R1[finest]
    radius = [2.0 * r1] + [r1 * 2.0 ** (1 - b) for b in range(1, scales)]

    # every grid point with its Nyquist representatives: (flat index, u0, u1, weight)
    k0, u0, w0 = _axis_samples(M, _BORDER)
    k1, u1, w1 = _axis_samples(N, _BORDER)
    flat = (k0[:, None] * N + k1[None, :]).ravel()
    U0 = np.broadcast_to(u0[:, None], (u0.size, u1.size)).ravel()
    U1 = np.broadcast_to(u1[None, :], (u0.size, u1.size)).ravel()
    weight = (w0[:, None] * w1[None, :]).ravel()
    s = pseudo_angle(U0, U1)

    def lowpass_sq(b: int) -> np.ndarray:
        if b == 0:
            return np.ones_like(U0)
        return _lowpass_1d_sq(U0 / radius[b]) * _lowpass_1d_sq(U1 / radius[b])

    out = CurveletWindows(shape=shape, scales=scales, angles=angles, finest=finest,
                          counts=counts, radius=radius[:J])
    outer = lowpass_sq(0)
    for j in range(J):
        inner = lowpass_sq(j + 1)
        band = np.clip(outer - inner, 0.0, None) * weight
        outer = inner
        keep = band > _TINY
        L = counts[j]
        if L == 1:
            rows = np.zeros(int(keep.sum()), dtype=np.int64)
            cols, data = flat[keep], band[keep]
        else:
            # each point lies between the centres of wedges m and m+1: cos^2 / sin^2 split
            x = (s[keep] + 1.0) * (L / 8.0) - 0.5
            m = np.floor(x)
            frac = x - m
            c2 = np.cos(0.5 * np.pi * _ramp(frac)) ** 2
            rows = np.concatenate([m, m + 1]).astype(np.int64) % L
            cols = np.concatenate([flat[keep], flat[keep]])
            data = np.concatenate([band[keep] * c2, band[keep] * (1.0 - c2)])
        # sum the Nyquist representatives of each point (duplicates) per wedge
        mat = scipy.sparse.coo_matrix((data, (rows, cols)), shape=(L, M * N)).tocsr()
        mat.sum_duplicates()
        idx_j, val_j = [], []
        for l in range(L):
            lo, hi = mat.indptr[l], mat.indptr[l + 1]
            sq = mat.data[lo:hi]
            good = sq > _TINY
            if not good.any():
                raise ValueError(f"wedge {l} of scale {j} is empty on grid {shape}: "
                                 "use fewer scales")
            idx_j.append(mat.indices[lo:hi][good].astype(np.int64))
            val_j.append(np.sqrt(sq[good]))
        out.index.append(idx_j)
        out.value.append(val_j)
        # nominal centre: the wedge's centre ray meets the square |u|_inf = radius[j]
        if L == 1:
            ang = np.zeros(1)
            xi = np.array([radius[j] / 2.0])
        else:
            ang = np.array([_angle_of_pseudo(-1.0 + (l + 0.5) * 8.0 / L) for l in range(L)])
            xi = (radius[j] / 2.0) / np.maximum(np.abs(np.cos(ang)), np.abs(np.sin(ang)))
        out.angle.append(ang)
        out.xi.append(xi)
    low = scipy.sparse.coo_matrix((outer * weight, (np.zeros_like(flat), flat)),
                                  shape=(1, M * N)).tocsr()
    low.sum_duplicates()
    good = low.data > _TINY
    out.lowpass_index = low.indices[good].astype(np.int64)
    out.lowpass_value = np.sqrt(low.data[good])
    return out


class CurveletBank(FilterBank):
    """A :class:`FilterBank` of curvelets that draws its wedge tiling (see :func:`curvelet_2d`).

    Parameters
    ----------
    psi, phi, meta, name, params, phi_meta
        As in :class:`FilterBank` (``psi`` float64 of shape ``(K, M, N)``, ``phi`` ``(M, N)``);
        built by :func:`curvelet_2d`, not by hand.

    Examples
    --------
    >>> from scatter import filters
    >>> bank = filters.curvelet_2d((64, 64), scales=3, angles=8)
    >>> type(bank).__name__, bank.psi.shape, bank.psi.dtype
    ('CurveletBank', (12, 64, 64), dtype('float64'))
    >>> fig = bank.plot()             # the wedge tiling of the frequency plane
    """

    def plot(self, max_filters: int = 16, **kwargs):
        """Wedge tiling in frequency and about ``max_filters`` curvelets in space, spread
        evenly over the scales (at least one per scale), as :meth:`FilterBank.plot` counts.

        See :func:`scatter.filters.curvelet_plot.plot_curvelet_bank`. Returns the matplotlib figure.
        """
        from .._validation import check_int
        from .curvelet_plot import plot_curvelet_bank

        max_filters = check_int("max_filters", max_filters, minimum=1)
        scales = int(self.meta["j"].max()) + 1
        return plot_curvelet_bank(self, per_scale=max(1, max_filters // scales), **kwargs)


def curvelet_2d(shape, scales: int, angles: int = 16, finest: str = "curvelets",
                real: bool = True) -> CurveletBank:
    """Tight-frame curvelet filter bank (FDCT windows of Candès-Demanet-Donoho-Ying 2006).

    Parameters
    ----------
    shape : (int, int)
        Grid shape ``(M, N)``; needs ``min(shape) >= 2 ** (scales + 2)``.
    scales : int
        Number of scales including the low-pass (CurveLab's ``nbscales``), ``>= 2``: the bank has
        ``J = scales - 1`` band-pass scales ``j = 0`` (finest) .. ``J - 1`` and the low-pass ``phi``
        at scale ``J``. CurveLab's scale index (1 = coarsest) is ``scales - j``.
    angles : int
        Wedges at the coarsest band-pass scale (all orientations), a multiple of 4, ``>= 8``;
        doubles every other scale towards the finest (parabolic scaling).
    finest : {'curvelets', 'wavelets'}
        Curvelet wedges at the finest scale, or one isotropic (real, even) band there as in
        CurveLab's ``finest=2`` (redundancy about 2.7 instead of 6).
    real : bool
        ``True``: a bank for real signals: only the wedges whose centre angle lies in
        ``[-pi/4, 3pi/4)`` (half of each scale), scaled by ``sqrt(2)``; the other half is their
        complex conjugate for real inputs. ``False``: every wedge, for complex signals.

    Returns
    -------
    CurveletBank
        A :class:`FilterBank` with ``psi`` float64 of shape ``(K, M, N)`` (every window is real
        and nonnegative in frequency; curvelets are complex in space, the isotropic finest band
        and ``phi`` are real and even). ``littlewood_paley()`` is 1 everywhere (to rounding), with
        ``real_signals=False`` too when ``real=False``. Meta (length K):

        - ``'j'`` int, scale, 0 finest, ``< J``; ``'fdct_scale'`` int, CurveLab's ``scales - j``;
        - ``'theta'`` int, wedge index within the scale, counter-clockwise from angle ``-pi/4``;
        - ``'n_angles'`` int, wedges of that scale in the bank (1 for the isotropic band);
        - ``'angle'`` float, wedge centre orientation in radians, ``atan2(w1, w0)`` with ``w0``
          along axis 0 (0.0 for the isotropic band);
        - ``'xi'`` float, radial frequency of the wedge centre, cycles per sample;
        - ``'max_freq'`` float, largest ``max(|w0|, |w1|)`` (cycles per sample) where the filter
          is nonzero: ``|x * psi|`` may be subsampled by ``2**s`` without aliasing the filter's
          band when ``max_freq <= 2**-(s+1)``: about ``0.75 * 2**-j`` (curvelets at the finest
          scale) or ``0.67 * 2**-j`` (wavelets) for ``j >= 1``, so ``s = j - 1`` (not ``j``:
          Meyer windows span a factor 4 in frequency); 0.5 at ``j = 0``.

        ``phi_meta = {'j': J, 'fdct_scale': 1, 'xi': 0.0, 'max_freq': ...}``.

    Examples
    --------
    >>> from scatter.filters import curvelet_2d
    >>> bank = curvelet_2d((64, 64), scales=3, angles=8)
    >>> int(bank.meta['j'].max()), float(abs(bank.littlewood_paley() - 1).max()) < 1e-12
    (1, True)
    """
    shape, scales, angles, finest, real = validate_curvelet_args(shape, scales, angles, finest,
                                                                 real)
    win = curvelet_windows(shape, scales, angles, finest)
    M, N = shape
    filters = []
    meta = {key: [] for key in ("j", "fdct_scale", "theta", "n_angles", "angle", "xi", "max_freq")}
    f0, f1 = np.abs(np.fft.fftfreq(M)), np.abs(np.fft.fftfreq(N))

    def max_freq(index: np.ndarray) -> float:  # sup-norm radius of a support, cycles/sample
        k0, k1 = np.divmod(index, N)
        return float(np.maximum(f0[k0], f1[k1]).max())

    for j in range(win.J):
        L = win.counts[j]
        keep = range(L // 2) if (real and L > 1) else range(L)
        gain = math.sqrt(2.0) if (real and L > 1) else 1.0
        for l in keep:
            filters.append(gain * win.dense(j, l))
            meta["j"].append(j)
            meta["fdct_scale"].append(scales - j)
            meta["theta"].append(l)
            meta["n_angles"].append(len(keep))
            meta["angle"].append(win.angle[j][l])
            meta["xi"].append(win.xi[j][l])
            meta["max_freq"].append(max_freq(win.index[j][l]))
    meta = {k: np.asarray(v, dtype=np.int64 if k in ("j", "fdct_scale", "theta", "n_angles")
                          else np.float64) for k, v in meta.items()}
    params = {"shape": shape, "scales": scales, "angles": angles, "finest": finest, "real": real}
    return CurveletBank(np.stack(filters), win.dense_lowpass(), meta, name="curvelet",
                        params=params, phi_meta={"j": win.J, "fdct_scale": 1, "xi": 0.0,
                                                 "max_freq": max_freq(win.lowpass_index)})
