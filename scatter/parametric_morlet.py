"""A bank of 2D Morlet wavelets whose parameters are learned: the first step of parametric
scattering (Gauthier, Thérien, Alsène-Racicot, Chaudhary, Rish, Belilovsky, Wolf, "Parametric
Scattering Networks", CVPR 2022).

Each wavelet has four parameters, as in the paper: its orientation ``angle``, centre frequency
``xi`` (radians/sample), envelope width ``sigma`` (pixels) and aspect ratio ``slant``. The Fourier
filters are regenerated from them in torch, differentiably, on the parameters' device: the
formula of :func:`scatter.filters.morlet_2d` (Kymatio 0.3's ``filter_bank``: a Gabor wave minus
the multiple of its envelope that gives zero mean, periodised on the grid), written again in torch
operations. The low-pass ``phi`` is not learned. With Kymatio's parameters (``init='kymatio'``)
the filters equal ``morlet_2d``'s to float64 rounding.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ._validation import check_choice, check_int, check_scales_fit, check_shape

# as in scatter.filters.morlet: Kymatio 0.3 normalises with 3.1415 rather than pi
_KYMATIO_PI = 3.1415
# periodised copies whose envelope stays below this fraction of the peak change no float64 digit
_ENVELOPE_FLOOR = 1e-20

INITIALISATIONS = ("kymatio", "tight-frame", "random")


class ParametricMorlet2D(nn.Module):
    """2D Morlet wavelets with learnable orientation, centre frequency, width and aspect ratio.

    Parameters
    ----------
    shape : tuple of int (M, N)
        Grid of the Fourier filters (a scattering network's padded grid).
    J : int >= 1
        Number of scales of the initial bank; the (fixed) low-pass averages over ``2**J`` pixels.
    L : int >= 1
        Orientations per scale.
    init : {'kymatio', 'tight-frame', 'random'}
        ``'kymatio'``: the parameters of :func:`scatter.filters.morlet_2d` (``sigma = 0.8 * 2**j``,
        ``xi = 3 pi / 4 / 2**j``, Kymatio's angles, ``slant = 4 / L``): the filters are then
        Kymatio's. ``'tight-frame'``: the paper's "tight-frame" initialisation, which is made
        of exactly these parameters (its code's ``create_filters_params``), so the same bank
        here. ``'random'``: the paper's random initialisation: angles uniform in
        ``[0, 2 pi)``, ``xi`` uniform in ``[0.5, 1]`` rad/sample, ``sigma = log(u)`` with ``u``
        uniform in ``[e, e**5]``, ``slant`` uniform in ``[0.5, 1.5]``.
    seed : int, optional
        Seed of the random initialisation.
    learn : sequence of str
        Which of ``'angle'``, ``'xi'``, ``'sigma'``, ``'slant'`` are parameters
        (``nn.Parameter``; the others are buffers: saved with the module, not trained).

    Attributes
    ----------
    angle, xi, sigma, slant : Tensor, float64, shape (J * L,)
        The wavelets' parameters, ordered by ``(j, theta)`` as ``morlet_2d``.
    phi : Tensor, float64, shape (M, N)
        The fixed Gaussian low-pass (``morlet_2d``'s).

    Forward
    -------
    psi : Tensor, real, shape (J * L, M, N), the parameters' dtype (float64)
        The wavelets' Fourier filters, differentiable with respect to the learned parameters.

    Examples
    --------
    >>> import torch
    >>> from scatter import ParametricMorlet2D
    >>> from scatter.filters import morlet_2d
    >>> bank = ParametricMorlet2D((32, 32), J=2, L=4)
    >>> psi = bank()                                    # (8, 32, 32), float64
    >>> reference = torch.tensor(morlet_2d((32, 32), J=2, L=4).psi)
    >>> bool(torch.allclose(psi, reference, atol=1e-12))
    True
    >>> psi.sum().backward(); bank.xi.grad.shape        # gradients reach the parameters
    torch.Size([8])
    """

    def __init__(self, shape, J: int, L: int = 8, init: str = "kymatio", seed: int | None = None,
                 learn=("angle", "xi", "sigma", "slant")):
        super().__init__()
        from .filters import morlet_2d

        self.shape = check_shape("shape", shape, 2)
        self.J = check_int("J", J, minimum=1)
        self.L = check_int("L", L, minimum=1)
        check_scales_fit(self.J, self.shape)
        check_choice("init", init, INITIALISATIONS)
        learn = tuple(learn)
        for name in learn:
            check_choice("learn", name, ("angle", "xi", "sigma", "slant"))
        self.init = init
        reference = morlet_2d(self.shape, self.J, self.L)
        values = {"angle": reference.meta["angle"], "xi": 2 * math.pi * reference.meta["xi"],
                  "sigma": reference.meta["sigma"], "slant": reference.meta["slant"]}
        if init == "random":
            values = _random_parameters(self.J, self.L, np.random.default_rng(seed))
        for name, value in values.items():
            tensor = torch.as_tensor(np.asarray(value, dtype=np.float64).copy())
            if name in learn:
                setattr(self, name, nn.Parameter(tensor))
            else:
                self.register_buffer(name, tensor)
        self.register_buffer("phi", torch.as_tensor(reference.phi.copy()))
        self.register_buffer("j", torch.as_tensor(reference.meta["j"].copy()))
        self.register_buffer("theta", torch.as_tensor(reference.meta["theta"].copy()))

    def forward(self) -> torch.Tensor:
        return morlet_fourier(self.shape, self.angle, self.xi, self.sigma, self.slant)

    def to_filter_bank(self):
        """The current filters as a :class:`scatter.filters.FilterBank` (float64 NumPy, detached),
        for plots and for any network that takes a bank; meta holds the current parameters."""
        from .filters import FilterBank

        with torch.no_grad():
            psi = self().cpu().numpy()
        meta = {"j": self.j.cpu().numpy(), "theta": self.theta.cpu().numpy(),
                "angle": self.angle.detach().cpu().numpy(),
                "xi": self.xi.detach().cpu().numpy() / (2 * math.pi),
                "sigma": self.sigma.detach().cpu().numpy(),
                "slant": self.slant.detach().cpu().numpy()}
        return FilterBank(psi, self.phi.cpu().numpy(), meta, name="morlet",
                          params={"shape": self.shape, "J": self.J, "L": self.L,
                                  "init": self.init, "parametric": True},
                          phi_meta={"j": self.J, "sigma": 0.8 * 2.0 ** (self.J - 1), "xi": 0.0})

    def extra_repr(self) -> str:
        return f"shape={self.shape}, J={self.J}, L={self.L}, init={self.init!r}"


def _random_parameters(J: int, L: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The random initialisation of Gauthier et al. (2022), J * L filters."""
    K = J * L
    return {"angle": rng.uniform(0, 2 * math.pi, K), "xi": rng.uniform(0.5, 1.0, K),
            "sigma": np.log(rng.uniform(math.e, math.e ** 5, K)),
            "slant": rng.uniform(0.5, 1.5, K)}


def morlet_fourier(shape: tuple[int, int], angle: torch.Tensor, xi: torch.Tensor,
                   sigma: torch.Tensor, slant: torch.Tensor) -> torch.Tensor:
    """Fourier filters of periodised 2D Morlet wavelets from their parameters, in torch.

    ``psi(u) = g(u) (exp(i xi (u0 cos a + u1 sin a)) - beta) / (2 pi' sigma^2 / slant)`` with the
    envelope ``g(u) = exp(-u^T R diag(1, slant^2) R^T u / (2 sigma^2))``, ``beta`` giving zero mean
    and ``pi' = 3.1415`` (Kymatio's constant), summed over the translated copies ``u + (a M, b N)``
    that matter (at most Kymatio's ``a, b`` in ``-2..2``); see :func:`scatter.filters.morlet_2d`.

    Parameters
    ----------
    shape : (M, N)
    angle, xi, sigma, slant : Tensor, shape (K,)
        Orientation (radians), centre frequency (radians/sample), width (pixels), aspect ratio.

    Returns
    -------
    Tensor, real, shape (K, M, N), the parameters' dtype and device
    """
    M, N = shape
    # The window of coordinates evaluated: where some envelope exceeds the floor (no gradient
    # flows through its size, only through the values in it), within Kymatio's [-2 M, 3 M).
    with torch.no_grad():
        smallest = float((torch.clamp(slant, max=1.0) ** 2 / (2 * sigma ** 2)).min())
    reach = math.ceil(math.sqrt(-math.log(_ENVELOPE_FLOOR) / max(smallest, 1e-300)))
    lo0, hi0 = max(-2 * M, -reach), min(3 * M, reach + 1)
    lo1, hi1 = max(-2 * N, -reach), min(3 * N, reach + 1)
    u0 = torch.arange(lo0, hi0, dtype=angle.dtype, device=angle.device)[None, :, None]
    u1 = torch.arange(lo1, hi1, dtype=angle.dtype, device=angle.device)[None, None, :]
    c, s = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    sl2, s2 = (slant ** 2)[:, None, None], (2 * sigma ** 2)[:, None, None]
    # u^T R diag(1, slant^2) R^T u: the coordinate along the angle, and across it times slant
    along, across = c * u0 + s * u1, -s * u0 + c * u1
    envelope = torch.exp(-(along ** 2 + sl2 * across ** 2) / s2)
    phase = xi[:, None, None] * along
    folded = [_fold(t, (lo0, lo1), shape) for t in
              (envelope, envelope * torch.cos(phase), envelope * torch.sin(phase))]
    g, wave_re, wave_im = folded
    beta_re = wave_re.sum(dim=(-2, -1), keepdim=True) / g.sum(dim=(-2, -1), keepdim=True)
    beta_im = wave_im.sum(dim=(-2, -1), keepdim=True) / g.sum(dim=(-2, -1), keepdim=True)
    norm = (2 * _KYMATIO_PI * sigma ** 2 / slant)[:, None, None]
    psi_space = torch.complex(wave_re - beta_re * g, wave_im - beta_im * g) / norm
    # real up to rounding (even envelopes): the real part, as morlet_2d and Kymatio keep
    return torch.fft.fft2(psi_space).real


def _fold(window: torch.Tensor, origin: tuple[int, int], shape: tuple[int, int]) -> torch.Tensor:
    """Sum a window of the plane (last two axes; first sample at ``origin``) onto the periodic
    grid ``shape``."""
    M, N = shape
    start0, start1 = (origin[0] // M) * M, (origin[1] // N) * N
    stop0 = -(-(origin[0] + window.shape[-2]) // M) * M
    stop1 = -(-(origin[1] + window.shape[-1]) // N) * N
    pad = (origin[1] - start1, stop1 - origin[1] - window.shape[-1],
           origin[0] - start0, stop0 - origin[0] - window.shape[-2])
    plane = torch.nn.functional.pad(window, pad)
    K = window.shape[0]
    return plane.reshape(K, plane.shape[-2] // M, M, plane.shape[-1] // N, N).sum(dim=(1, 3))


def plot_learned_wavelets(initial: ParametricMorlet2D, trained: ParametricMorlet2D,
                          max_filters: int = 8, title: str | None = None):
    """Trained wavelets beside their initialisation, and how far each parameter moved.

    Parameters
    ----------
    initial, trained : ParametricMorlet2D
        The same bank before and after training (e.g. ``copy.deepcopy`` of ``S.wavelets``
        before the first step, then ``S.wavelets``).
    max_filters : int
        Wavelets drawn in space (evenly spread over the bank).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Top: the real part of the chosen wavelets in space, initial (first row) over trained
        (second row), each divided by its largest magnitude. Bottom left: the Fourier tiling,
        half-maximum contours of every wavelet, initial dashed and trained solid. Bottom right:
        each parameter's change, trained minus initial, per wavelet (angle in degrees, xi in
        cycles/sample, sigma in pixels, slant). Not registered with ``pyplot``.

    Examples
    --------
    >>> import copy, torch
    >>> from scatter import ParametricMorlet2D
    >>> from scatter.parametric_morlet import plot_learned_wavelets
    >>> bank = ParametricMorlet2D((32, 32), J=2, L=4)
    >>> start = copy.deepcopy(bank)
    >>> with torch.no_grad():
    ...     _ = bank.xi.mul_(1.2)                     # as a training step would move it
    >>> fig = plot_learned_wavelets(start, bank, max_filters=4)
    """
    from matplotlib.figure import Figure

    from .filters import _style as style

    if not (isinstance(initial, ParametricMorlet2D) and isinstance(trained, ParametricMorlet2D)):
        raise TypeError("initial and trained must be ParametricMorlet2D banks")
    if tuple(initial.shape) != tuple(trained.shape) or initial.angle.shape != trained.angle.shape:
        raise ValueError(f"initial and trained must be the same bank: shapes {initial.shape} and "
                         f"{trained.shape}, {initial.angle.numel()} and {trained.angle.numel()} "
                         f"wavelets")
    max_filters = check_int("max_filters", max_filters, minimum=1)
    banks = [initial.to_filter_bank(), trained.to_filter_bank()]
    K = len(banks[0])
    chosen = np.unique(np.round(np.linspace(0, K - 1, min(max_filters, K))).astype(int))
    fig = Figure(figsize=(max(1.35 * len(chosen) + 1.2, 9.0), 7.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.45])
    axes = top.subplots(2, len(chosen), squeeze=False)
    M, N = initial.shape
    shown = None
    for row, bank in enumerate(banks):
        space, _ = bank.spatial(centered=True)
        for col, k in enumerate(chosen):
            quarter = min(M, N) // 4                 # the central half of the grid
            crop = space[k].real[M // 2 - quarter:M // 2 + quarter + 1,
                                 N // 2 - quarter:N // 2 + quarter + 1]
            ax = axes[row, col]
            shown = ax.imshow(crop / (np.abs(crop).max() or 1.0), cmap=style.SIGNED, vmin=-1,
                              vmax=1, origin="lower", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"#{k}: $j={int(bank.meta['j'][k])}$", fontsize=8)
        axes[row, 0].set_ylabel("initial" if row == 0 else "trained", fontsize=9)
    style.colorbar(top, shown, list(axes.flat), label="Re / max $|\\psi|$", shrink=0.8)

    tiling, drift = bottom.subplots(1, 2, width_ratios=[1.0, 1.3])
    fy, fx = (np.fft.fftshift(np.fft.fftfreq(n)) for n in (M, N))
    for bank, ls in ((banks[0], "--"), (banks[1], "-")):
        magnitude = np.abs(np.fft.fftshift(bank.psi, axes=(1, 2)))
        for k in range(K):
            peak = magnitude[k].max()
            if peak > 0 and magnitude[k].min() < 0.5 * peak:
                tiling.contour(fx, fy, magnitude[k] / peak, levels=[0.5], linestyles=ls,
                               colors=["0.5" if ls == "--" else "tab:red"], linewidths=0.8)
    tiling.set_xlim(-0.5, 0.5)
    tiling.set_ylim(-0.5, 0.5)
    tiling.set_aspect("equal")
    tiling.set_xlabel(style.OMEGA_2, fontsize=8)
    tiling.set_ylabel(style.OMEGA_1, fontsize=8)
    tiling.tick_params(labelsize=7)
    tiling.set_title("half-maximum contours: initial (grey, dashed), trained (red)", fontsize=9)
    changes = {"angle (degrees)": np.degrees(banks[1].meta["angle"] - banks[0].meta["angle"]),
               "$\\xi$ (cycles/sample) x 100": 100 * (banks[1].meta["xi"] - banks[0].meta["xi"]),
               "$\\sigma$ (pixels)": banks[1].meta["sigma"] - banks[0].meta["sigma"],
               "slant": banks[1].meta["slant"] - banks[0].meta["slant"]}
    width = 0.2
    for i, (name, change) in enumerate(changes.items()):
        drift.bar(np.arange(K) + (i - 1.5) * width, change, width=width, label=name)
    drift.axhline(0, color="k", linewidth=0.6)
    drift.set_xlabel("wavelet (ordered by scale $j$, then angle)", fontsize=8)
    drift.set_ylabel("trained minus initial", fontsize=8)
    drift.tick_params(labelsize=7)
    drift.legend(fontsize=7, ncols=2, loc="best")
    drift.set_title("how far each parameter moved", fontsize=9)
    fig.suptitle(title or f"Learned Morlet wavelets ({K} on a {M}x{N} grid): trained against "
                          f"their initialisation")
    return fig
