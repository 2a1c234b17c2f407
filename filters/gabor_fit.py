"""Least-squares fit of a 2D Gabor function to each of a stack of real 2D filters.

Used to measure how Gabor-like learned filters are (sparse-coding atoms, CNN first layers), as
Olshausen & Field (1996) and Ringach (2002) do for V1 receptive fields.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_int

PARAM_NAMES = ("x0", "y0", "theta", "frequency", "phase", "sigma_x", "sigma_y", "amplitude")


@dataclass
class GaborFit:
    """The Gabor fitted to each filter by :func:`fit_gabor`.

    Attributes
    ----------
    params : dict of str to ndarray, float64, shape (K,)
        ``'x0'``, ``'y0'``: envelope centre in pixels from the top-left pixel's centre (``x`` is
        the column index, ``y`` the row index); ``'theta'``: direction of the carrier's wave
        vector in ``[0, pi)``, measured from the ``+x`` (column) axis towards the ``+y`` (row,
        downward) axis; ``'frequency'``: carrier frequency in cycles/pixel (``>= 0``);
        ``'phase'``: carrier phase in ``(-pi, pi]`` at the centre (0: even, cosine-like);
        ``'sigma_x'``, ``'sigma_y'``: envelope standard deviations in pixels along and across
        the wave vector; ``'amplitude'``: peak amplitude (``>= 0``). See :func:`gabor_model`.
    r2 : ndarray, float64, shape (K,)
        Coefficient of determination ``1 - SSE / SST`` of each fit (``SST`` about the filter's
        mean; 0 for a constant filter).
    fitted : ndarray, float64, shape (K, h, w)
        The fitted Gabors sampled on the filters' grid.

    Examples
    --------
    >>> from scatter import filters
    >>> g = filters.gabor_model((11, 11), x0=5, y0=5, theta=[0.3, 2.0], frequency=0.2, phase=0.0,
    ...                         sigma_x=2.0, sigma_y=2.0, amplitude=1.0)
    >>> fit = filters.fit_gabor(g, n_iter=30)
    >>> sorted(fit.params), fit.params["theta"].shape
    (['amplitude', 'frequency', 'phase', 'sigma_x', 'sigma_y', 'theta', 'x0', 'y0'], (2,))
    >>> fit.params["theta"].round(2).tolist()
    [0.3, 2.0]
    """

    params: dict[str, np.ndarray]
    r2: np.ndarray
    fitted: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return self.r2.shape[0]


def gabor_model(shape: tuple[int, int], x0, y0, theta, frequency, phase, sigma_x, sigma_y,
             amplitude) -> np.ndarray:
    """Sample Gabor functions on an ``(h, w)`` pixel grid.

    ``g(x, y) = A exp(-u^2 / (2 sigma_x^2) - v^2 / (2 sigma_y^2)) cos(2 pi f u + phase)`` with
    ``u = (x - x0) cos(theta) + (y - y0) sin(theta)`` and
    ``v = -(x - x0) sin(theta) + (y - y0) cos(theta)``, ``x`` the column and ``y`` the row index.

    Parameters
    ----------
    shape : (int, int)
        Grid ``(h, w)``.
    x0, y0, theta, frequency, phase, sigma_x, sigma_y, amplitude : float or array-like (K,)
        As in :class:`GaborFit`; arrays broadcast together.

    Returns
    -------
    ndarray, float64, shape (K, h, w), or (h, w) when every parameter is a scalar.

    Examples
    --------
    >>> from scatter import filters
    >>> g = filters.gabor_model((9, 9), x0=4, y0=4, theta=[0.0, 1.0], frequency=0.25, phase=0.0,
    ...                         sigma_x=2.0, sigma_y=2.0, amplitude=1.0)
    >>> g.shape, g.dtype                  # two Gabors (theta broadcast against the scalars)
    ((2, 9, 9), dtype('float64'))
    >>> float(g[0, 4, 4])                 # amplitude at the centre, cosine phase
    1.0
    """
    h, w = shape
    args = np.broadcast_arrays(*[np.asarray(p, dtype=np.float64) for p in
                                 (x0, y0, theta, frequency, phase, sigma_x, sigma_y, amplitude)])
    scalar = args[0].ndim == 0
    x0, y0, theta, f, phase, sx, sy, amp = [a.reshape(-1, 1, 1) for a in args]
    y, x = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    dx, dy = x - x0, y - y0
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    g = amp * np.exp(-0.5 * (u / sx) ** 2 - 0.5 * (v / sy) ** 2) * np.cos(2 * np.pi * f * u + phase)
    return g[0] if scalar else g


# Internal parametrisation: p = (x0, y0, theta, frequency, log sigma_x, log sigma_y, a, b) and
# model = E (a cos(2 pi f u) + b sin(2 pi f u)); (a, b) enter linearly, which keeps the fit well
# conditioned where the amplitude is small and avoids a phase wrap-around.
_N_PARAMS = 8


def _model_and_jacobian(p: torch.Tensor, x: torch.Tensor, y: torch.Tensor, jac: bool = True):
    """Model (B, P) and its Jacobian (B, P, 8) with respect to the internal parameters."""
    x0, y0, th, f, lsx, lsy, a, b = (p[:, i:i + 1] for i in range(_N_PARAMS))
    c, s = torch.cos(th), torch.sin(th)
    dx, dy = x - x0, y - y0
    u = dx * c + dy * s
    v = -dx * s + dy * c
    isx2, isy2 = torch.exp(-2 * lsx), torch.exp(-2 * lsy)
    env = torch.exp(-0.5 * (u * u * isx2 + v * v * isy2))
    omega = 2 * math.pi * f
    cu, su = torch.cos(omega * u), torch.sin(omega * u)
    carrier = a * cu + b * su
    m = env * carrier
    if not jac:
        return m, None
    dcarrier = -a * su + b * cu                       # d carrier / d(omega u)
    m_u = env * (-u * isx2 * carrier + omega * dcarrier)
    m_v = -env * v * isy2 * carrier
    J = torch.stack([
        -c * m_u + s * m_v,                           # x0
        -s * m_u - c * m_v,                           # y0
        v * m_u - u * m_v,                            # theta
        env * 2 * math.pi * u * dcarrier,             # frequency
        m * u * u * isx2,                             # log sigma_x
        m * v * v * isy2,                             # log sigma_y
        env * cu,                                     # a
        env * su,                                     # b
    ], dim=-1)
    return m, J


def _linear_amplitudes(p: torch.Tensor, data: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """Replace (a, b) of ``p`` by their least-squares values given the other parameters."""
    q = p.clone()
    q[:, 6], q[:, 7] = 1.0, 0.0
    e_cos, _ = _model_and_jacobian(q, x, y, jac=False)
    q[:, 6], q[:, 7] = 0.0, 1.0
    e_sin, _ = _model_and_jacobian(q, x, y, jac=False)
    basis = torch.stack([e_cos, e_sin], dim=-1)                      # (B, P, 2)
    gram = basis.transpose(1, 2) @ basis
    gram = gram + 1e-9 * torch.eye(2, dtype=p.dtype, device=p.device) * (
        gram.diagonal(dim1=1, dim2=2).sum(-1)[:, None, None] + 1e-30)
    rhs = basis.transpose(1, 2) @ data[:, :, None]
    ab = torch.linalg.solve(gram, rhs)[:, :, 0]
    q[:, 6:] = ab
    return q


def _initial_guesses(data: torch.Tensor, h: int, w: int, x: torch.Tensor, y: torch.Tensor,
                     pad: int) -> torch.Tensor:
    """Starting points (K, S, 8) from each filter's spectrum peak and its analytic signal."""
    K = data.shape[0]
    img = data.reshape(K, h, w)
    spec = torch.fft.fft2(img, s=(pad, pad)).abs() ** 2
    freqs = torch.fft.fftfreq(pad, dtype=data.dtype, device=data.device)
    fy, fx = torch.meshgrid(freqs, freqs, indexing="ij")
    # Keep one half-plane (real filters have a symmetric spectrum) and ignore the exact DC bin
    # unless it dominates: the peak then gives a low-frequency blob.
    half = (fx > 0) | ((fx == 0) & (fy > 0))
    spec_half = torch.where(half, spec, torch.zeros_like(spec)).reshape(K, -1)
    idx = spec_half.argmax(dim=1)
    peak_fx, peak_fy = fx.reshape(-1)[idx], fy.reshape(-1)[idx]
    freq = torch.hypot(peak_fx, peak_fy)
    theta = torch.atan2(peak_fy, peak_fx)
    # Analytic signal along the carrier direction: its modulus estimates the envelope.
    spec_c = torch.fft.fft2(img)
    gy, gx = torch.meshgrid(torch.fft.fftfreq(h, dtype=data.dtype, device=data.device),
                            torch.fft.fftfreq(w, dtype=data.dtype, device=data.device), indexing="ij")
    proj = gx[None] * torch.cos(theta)[:, None, None] + gy[None] * torch.sin(theta)[:, None, None]
    mask = 2.0 * (proj > 1e-12) + 1.0 * (proj.abs() <= 1e-12)
    z = torch.fft.ifft2(spec_c * mask)
    weight = (z.abs() ** 2).reshape(K, -1)
    weight = weight / weight.sum(dim=1, keepdim=True).clamp_min(1e-300)
    cx = (weight * x).sum(1)
    cy = (weight * y).sum(1)
    dx, dy = x - cx[:, None], y - cy[:, None]
    c, s = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    var_u = (weight * (dx * c + dy * s) ** 2).sum(1)
    var_v = (weight * (-dx * s + dy * c) ** 2).sum(1)
    # |envelope|^2 has standard deviation sigma / sqrt(2); shrink a little: the weights of a
    # noisy or windowed filter overestimate the spread.
    smax = float(max(h, w))
    sx = (2 * var_u).sqrt().clamp(0.5, smax)
    sy = (2 * var_v).sqrt().clamp(0.5, smax)
    base = torch.stack([cx, cy, theta, freq, sx.log(), sy.log(),
                        torch.zeros_like(cx), torch.zeros_like(cx)], dim=1)
    # A few variants: smaller envelopes, lower and higher frequency, centre at the largest
    # pixel; the best of them after least squares is kept.
    starts = [base]
    for scale in (0.6,):
        v = base.clone()
        v[:, 4:6] += math.log(scale)
        starts.append(v)
    for fscale in (0.7, 1.3):
        v = base.clone()
        v[:, 3] *= fscale
        starts.append(v)
    amax = data.abs().argmax(dim=1)
    v = base.clone()
    v[:, 0], v[:, 1] = x[amax].to(data.dtype), y[amax].to(data.dtype)
    v[:, 4:6] = base[:, 4:6] + math.log(0.6)
    starts.append(v)
    return torch.stack(starts, dim=1)


def _levenberg_marquardt(p: torch.Tensor, data: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                         n_iter: int, bounds: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Batched Levenberg-Marquardt with Marquardt's diagonal scaling and box clamping."""
    lo, hi = bounds
    B = p.shape[0]
    mu = torch.full((B,), 1e-2, dtype=p.dtype, device=p.device)
    model, J = _model_and_jacobian(p, x, y)
    r = model - data
    sse = (r * r).sum(1)
    eye = torch.eye(_N_PARAMS, dtype=p.dtype, device=p.device)
    for _ in range(n_iter):
        JtJ = J.transpose(1, 2) @ J
        g = (J.transpose(1, 2) @ r[:, :, None])[:, :, 0]
        diag = JtJ.diagonal(dim1=1, dim2=2).clamp_min(1e-12)
        A = JtJ + mu[:, None, None] * torch.diag_embed(diag) + 1e-12 * eye
        step = torch.linalg.solve(A, -g[:, :, None])[:, :, 0]
        cand = torch.maximum(torch.minimum(p + step, hi), lo)
        m_c, J_c = _model_and_jacobian(cand, x, y)
        r_c = m_c - data
        sse_c = (r_c * r_c).sum(1)
        ok = sse_c < sse
        p = torch.where(ok[:, None], cand, p)
        J = torch.where(ok[:, None, None], J_c, J)
        r = torch.where(ok[:, None], r_c, r)
        sse = torch.where(ok, sse_c, sse)
        mu = torch.where(ok, mu / 3, mu * 2).clamp(1e-9, 1e9)
    return p


def _canonical(p: np.ndarray) -> dict[str, np.ndarray]:
    """Internal parameters (K, 8) to the public ones: theta in [0, pi), f >= 0, A >= 0."""
    x0, y0, th, f, lsx, lsy, a, b = p.T.copy()
    # f < 0 is the same Gabor with the sine part negated; theta + pi negates u, hence b too.
    neg = f < 0
    f[neg], b[neg] = -f[neg], -b[neg]
    th = np.mod(th, 2 * np.pi)
    flip = th >= np.pi
    th[flip], b[flip] = th[flip] - np.pi, -b[flip]
    th = np.where(th >= np.pi, 0.0, th)   # guard rounding at exactly pi
    amp = np.hypot(a, b)
    # a cos + b sin = A cos(. + phase) with a = A cos(phase), b = -A sin(phase)
    phase = np.arctan2(-b, a)
    return {"x0": x0, "y0": y0, "theta": th, "frequency": f, "phase": phase,
            "sigma_x": np.exp(lsx), "sigma_y": np.exp(lsy), "amplitude": amp}


def fit_gabor(filters: np.ndarray, *, n_iter: int = 60, device: str | torch.device | None = None
              ) -> GaborFit:
    """Fit a 2D Gabor function to each real 2D filter by least squares.

    All filters (and several starting points per filter) are fitted at once by a batched
    Levenberg-Marquardt in float64 torch. Starting points come from the peak of each filter's
    zero-padded power spectrum (frequency, orientation) and the moments of its analytic signal
    along that orientation (centre, envelope widths); amplitude and phase are then solved
    linearly. The best of the starts is kept.

    Parameters
    ----------
    filters : ndarray, shape (K, h, w) or (h, w)
        Real filters (any real dtype), ``h, w >= 3``, finite.
    n_iter : int, keyword-only
        Levenberg-Marquardt iterations (each evaluates the model twice).
    device : str or torch.device, optional, keyword-only
        Where to run the fit (default CPU); results are returned as NumPy arrays.

    Returns
    -------
    GaborFit
        ``params`` (dict of float64 arrays of shape (K,), see :class:`GaborFit` and
        :func:`gabor_model` for the model), ``r2`` (K,) and ``fitted`` (K, h, w). A single
        (h, w) filter gives K = 1.

    Raises
    ------
    TypeError
        If ``filters`` is not a real numeric array.
    ValueError
        If ``filters`` has the wrong number of dimensions, a side smaller than 3, no filter,
        or non-finite values.

    Notes
    -----
    The model is ``A exp(-u^2/(2 sigma_x^2) - v^2/(2 sigma_y^2)) cos(2 pi f u + phase)`` with
    ``(u, v)`` the pixel offset from ``(x0, y0)`` rotated by ``theta`` (Jones & Palmer 1987;
    the parametrisation of Ringach 2002, J. Neurophysiol. 88:455). Envelope widths are bounded
    to ``[0.3, 4 max(h, w)]`` pixels, the centre to one filter size around the grid and
    ``|f| <= 0.5`` cycle/pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import filters
    >>> g = filters.gabor_model((15, 15), x0=7, y0=7, theta=0.5, frequency=0.2, phase=0.0,
    ...                         sigma_x=2.5, sigma_y=3.0, amplitude=1.0)
    >>> fit = filters.fit_gabor(g, n_iter=30)
    >>> fit.r2.shape, fit.fitted.shape
    ((1,), (1, 15, 15))
    >>> bool(fit.r2[0] > 0.99), round(float(fit.params["frequency"][0]), 2)
    (True, 0.2)
    """
    arr = np.asarray(filters)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)
                                   or np.issubdtype(arr.dtype, np.floating)
                                   or arr.dtype == bool):
        raise TypeError(f"filters must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"filters must have shape (K, h, w) or (h, w), got {np.shape(filters)}")
    K, h, w = arr.shape
    if K < 1:
        raise ValueError("filters must hold at least one filter, got K = 0")
    if h < 3 or w < 3:
        raise ValueError(f"filters must be at least 3x3 pixels, got {h}x{w}")
    n_iter = check_int("n_iter", n_iter, minimum=0)
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("filters contains NaN or inf values")
    dev = torch.device(device) if device is not None else torch.device("cpu")

    data = torch.as_tensor(arr.reshape(K, h * w), device=dev)
    # Normalise each filter (fits are scale invariant); restore the amplitude at the end.
    scale = data.abs().amax(dim=1).clamp_min(1e-300)
    data = data / scale[:, None]
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64, device=dev),
                            torch.arange(w, dtype=torch.float64, device=dev), indexing="ij")
    x, y = xx.reshape(1, -1), yy.reshape(1, -1)

    starts = _initial_guesses(data, h, w, x[0], y[0], pad=4 * max(h, w, 16))   # (K, S, 8)
    S = starts.shape[1]
    data_rep = data.repeat_interleave(S, dim=0)
    p = _linear_amplitudes(starts.reshape(K * S, _N_PARAMS), data_rep, x, y)
    smax = 4.0 * max(h, w)
    inf = float("inf")
    lo = torch.tensor([-w, -h, -inf, -0.5, math.log(0.3), math.log(0.3), -inf, -inf],
                      dtype=torch.float64, device=dev)
    hi = torch.tensor([2 * w, 2 * h, inf, 0.5, math.log(smax), math.log(smax), inf, inf],
                      dtype=torch.float64, device=dev)
    p = _levenberg_marquardt(p, data_rep, x, y, n_iter, (lo, hi))

    model, _ = _model_and_jacobian(p, x, y, jac=False)
    sse = ((model - data_rep) ** 2).sum(1).reshape(K, S)
    best = sse.argmin(dim=1)
    p = p.reshape(K, S, _N_PARAMS)[torch.arange(K, device=dev), best]
    model = model.reshape(K, S, -1)[torch.arange(K, device=dev), best]
    sse = sse[torch.arange(K, device=dev), best]
    sst = ((data - data.mean(dim=1, keepdim=True)) ** 2).sum(1)
    r2 = torch.where(sst > 0, 1 - sse / sst.clamp_min(1e-300), torch.zeros_like(sst))

    p[:, 6:] *= scale[:, None]
    fitted = (model * scale[:, None]).reshape(K, h, w)
    params = _canonical(p.cpu().numpy())
    return GaborFit(params=params, r2=r2.cpu().numpy(), fitted=fitted.cpu().numpy())
