"""One plotting style for every figure of the library.

- Frequency planes: zero frequency at the centre, ``ω₁`` (the first, row axis) vertical and
  pointing up, ``ω₂`` (the column axis) horizontal, in cycles per sample.
- Colour maps by meaning: signed values (real and imaginary parts) ``RdBu_r`` with limits
  symmetric about zero; moduli and energies ``magma`` from zero; sums and coverage (Littlewood-
  Paley, tilings) ``viridis``; images ``gray``.
- Titles and labels in mathtext (``$\\psi_{j,\\theta}$``); every image has a colour bar (one per
  row of a grid when the panels share a scale).

Matplotlib is imported only when a figure is drawn.
"""
from __future__ import annotations

import numpy as np

SIGNED = "RdBu_r"
MODULUS = "magma"
SUM = "viridis"
IMAGE = "gray"

OMEGA_1 = r"$\omega_1$ (cycles/sample)"
OMEGA_2 = r"$\omega_2$ (cycles/sample)"

# readable names of the banks' families, for titles
FAMILY = {"morlet": "Morlet wavelets", "morlet1d": "Morlet wavelets (1D)", "gabor": "Gabor filters",
          "log_gabor": "log-Gabor filters", "curvelet": "Curvelets", "dwt": "Discrete wavelets",
          "solid_harmonic": "Solid harmonic wavelets"}


def family(name: str) -> str:
    """A bank's name as a title says it (``'morlet1d'`` -> ``'Morlet wavelets (1D)'``)."""
    return FAMILY.get(name, name)


def centred_frequencies(n: int) -> np.ndarray:
    """DFT frequencies in cycles per sample, in ``fftshift`` order."""
    return np.fft.fftshift(np.fft.fftfreq(n))


def frequency_extent(shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """``imshow`` extent of an ``fftshift``-ed plane: ``(ω₂ min, ω₂ max, ω₁ min, ω₁ max)``
    (pixel edges, with ``origin='lower'``)."""
    edges = []
    for n in (shape[1], shape[0]):
        f = centred_frequencies(n)
        step = f[1] - f[0] if n > 1 else 1.0
        edges += [float(f[0] - step / 2), float(f[-1] + step / 2)]
    return tuple(edges)


def frequency_plane(ax, plane: np.ndarray, **imshow_kwargs):
    """Draw an ``fftshift``-ed frequency plane (shape (M, N)) in the library's orientation.

    Returns the ``AxesImage`` (for a colour bar)."""
    kwargs = {"interpolation": "nearest", **imshow_kwargs}
    image = ax.imshow(plane, origin="lower", extent=frequency_extent(plane.shape[:2]), **kwargs)
    ax.set_xlabel(OMEGA_2, fontsize=8)
    ax.set_ylabel(OMEGA_1, fontsize=8)
    ax.tick_params(labelsize=7)
    return image


def signed_limits(values: np.ndarray) -> tuple[float, float]:
    """``(-m, m)`` with ``m`` the largest magnitude (1 for an all-zero array)."""
    m = float(np.abs(values).max()) if np.size(values) else 0.0
    m = m or 1.0
    return -m, m


def colorbar(fig, mappable, ax, label: str | None = None, **kwargs):
    """A colour bar for ``mappable`` beside ``ax`` (an axes or a list of axes)."""
    bar = fig.colorbar(mappable, ax=ax, **{"shrink": 0.85, **kwargs})
    bar.ax.tick_params(labelsize=7)
    if label:
        bar.set_label(label, fontsize=8)
    return bar


def lower_bound_note(lp: np.ndarray) -> str:
    """The frame bounds ``A = min``, ``B = max`` of a Littlewood-Paley sum ``lp`` (unshifted,
    DFT order) as a title says them; when ``A`` is (nearly) zero the bank is not a frame, and
    the note says where the plane is uncovered: at zero frequency (no low-pass) or at the
    frequency, in cycles per sample, where the sum is smallest."""
    low, high = float(lp.min()), float(lp.max())
    text = f"$A={low:.3g}$, $B={high:.3g}$"
    if low > 1e-6 * max(high, 1e-300):
        return text
    where = np.unravel_index(int(np.argmin(lp)), lp.shape)
    freqs = [float(np.fft.fftfreq(n)[i]) for n, i in zip(lp.shape, where)]
    if all(f == 0 for f in freqs):
        return text + r" ($A\approx 0$: no filter covers $\omega=0$)"
    at = ", ".join(f"{f:.2g}" for f in freqs)
    return text + f" ($A\\approx 0$: uncovered at $\\omega=({at})$)"
