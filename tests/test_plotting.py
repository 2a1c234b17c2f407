"""filters.plot_bank: figures for any FilterBank, filter selection, bad input."""
import io

import matplotlib
import numpy as np
import pytest

from scatter import filters
from scatter.filters import FilterBank, plot_bank
from scatter.filters.plotting import order_groups, select_filters

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def gaussian_bank_1d(n=128, centres=(-0.3, -0.1, 0.1, 0.3), lowpass=True, meta=None):
    f = np.fft.fftfreq(n)
    psi = np.stack([np.exp(-(f - c) ** 2 / (2 * 0.03 ** 2)) for c in centres])
    phi = np.exp(-f ** 2 / (2 * 0.03 ** 2)) if lowpass else None
    return FilterBank(psi, phi, meta or {})


def gaussian_bank_2d(shape=(24, 20), n_angles=5, complex_=False, lowpass=False, meta=None):
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    angles = np.linspace(0, np.pi, n_angles, endpoint=False)
    psi = np.stack([np.exp(-((fy - 0.2 * np.cos(t)) ** 2 + (fx - 0.2 * np.sin(t)) ** 2) / 0.005)
                    for t in angles])
    if complex_:  # a non-Hermitian, complex Fourier response
        psi = psi * np.exp(1j * 2 * np.pi * (3 * fy + fx))
    phi = np.exp(-(fy ** 2 + fx ** 2) / 0.005) if lowpass else None
    return FilterBank(psi, phi, meta or {})


def render(fig):
    """Draw the figure to PNG bytes (catches errors that appear only at draw time)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def titles(fig):
    return [ax.get_title() for ax in fig.get_axes()]


@pytest.fixture(autouse=True)
def no_pyplot_figures_left():
    before = plt.get_fignums()
    yield
    # plot_bank builds figures outside pyplot: nothing to close, nothing leaks
    assert plt.get_fignums() == before
    plt.close("all")


def test_morlet_2d_figure():
    bank = filters.morlet_2d((32, 32), J=3, L=8)
    fig = bank.plot(max_filters=9)
    assert isinstance(fig, matplotlib.figure.Figure)
    rows = select_filters(bank, 9)
    assert [list(bank.meta["j"][row]) for row in rows] == [[0] * 3, [1] * 3, [2] * 3]
    assert list(bank.meta["theta"][rows[0]]) == [0, 4, 7]  # evenly spaced orientations
    shown = titles(fig)
    assert "$j=2$, $\\theta=7$" in shown and any(t.startswith("$\\phi$") for t in shown)
    lp = [t for t in shown if "Littlewood-Paley" in t]
    low, high = bank.frame_bounds()
    assert len(lp) == 1 and f"$A={low:.3g}$, $B={high:.3g}$" in lp[0]
    # a Morlet bank's spatial filters are complex: real, imaginary, modulus rows per scale,
    # and two colour bars (signed parts, moduli)
    spatial = max(fig.subfigs, key=lambda sub: len(sub.get_axes()))   # beside or below
    assert len(spatial.get_axes()) == 3 * 3 * 4 + 2
    assert [a.get_label() for a in spatial.get_axes()].count("<colorbar>") == 2
    render(fig)


def test_complex_2d_bank_without_phi_or_meta():
    bank = gaussian_bank_2d(complex_=True)
    assert not bank.is_real and bank.phi is None
    fig = plot_bank(bank)
    shown = titles(fig)
    assert [f"#{k}" for k in range(5)] == [t for t in shown if t.startswith("#")]
    assert not any(t.startswith("$\\phi$") for t in shown)


def test_real_spatial_filters_drop_the_imaginary_row():
    f = np.fft.fftfreq(16)
    # Hermitian Fourier filters: real in space
    psi = np.stack([np.cos(2 * np.pi * f[:, None] * k) * np.exp(-f[None, :] ** 2) for k in (1, 2)])
    fig = plot_bank(FilterBank(psi, None, {"j": [0, 1]}), fourier=False)
    # (Re, |psi|) x 2 scales, one filter each, and a colour bar for each kind of part
    assert len(fig.get_axes()) == 2 * 2 + 2


def test_1d_banks():
    fig = plot_bank(gaussian_bank_1d(meta={"j": [0, 1, 2, 3]}))
    shown = titles(fig)
    assert "$j=3$" in shown and "$\\phi$ (low-pass)" in shown
    fig = plot_bank(gaussian_bank_1d(lowpass=False), freq_scale="log", crop=None)
    assert fig.get_axes()[-1].get_xscale() == "log"
    render(fig)


def test_morlet_1d_two_orders_get_one_lp_sum_each():
    bank = filters.morlet_1d(256, J=4, Q=4)
    groups = order_groups(bank)
    assert [name for name, _ in groups] == ["order 1", "order 2"]
    assert sum(len(sub) for _, sub in groups) == len(bank)
    fig = plot_bank(bank, max_filters=6)
    lp = [t for t in titles(fig) if "Littlewood-Paley" in t]
    assert len(lp) == 2 and "order 1" in lp[0] and "order 2" in lp[1]
    low, high = groups[1][1].frame_bounds()
    assert f"$A={low:.3g}$, $B={high:.3g}$" in lp[1]
    assert sum(row.size for row in select_filters(bank, 6)) == 6
    render(fig)


def test_selection_never_exceeds_max_filters():
    bank = filters.morlet_2d((32, 32), J=4, L=6)
    for max_filters in (1, 3, 4, 5, 16, 100):
        rows = select_filters(bank, max_filters)
        chosen = np.concatenate(rows)
        assert 1 <= chosen.size <= min(max_filters, len(bank))
        assert np.unique(chosen).size == chosen.size
    assert np.concatenate(select_filters(bank, 100)).size == len(bank)
    # more scales than filters allowed: spread over the scales, one filter each
    assert list(bank.meta["j"][np.concatenate(select_filters(bank, 2))]) == [0, 3]


def test_panel_switches():
    bank = gaussian_bank_2d(lowpass=True)
    # tiling and LP sum, each with its colour bar
    assert len(plot_bank(bank, spatial=False).get_axes()) == 2 + 2
    assert not any("Littlewood-Paley" in t for t in titles(plot_bank(bank, fourier=False)))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"max_filters": 0}, ValueError, "max_filters"),
    ({"max_filters": 2.5}, TypeError, "max_filters"),
    ({"crop": 1.5}, ValueError, "crop"),
    ({"crop": -1}, ValueError, "crop"),
    ({"freq_scale": "mel"}, ValueError, "freq_scale"),
    ({"spatial": False, "fourier": False}, ValueError, "nothing to draw"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_bank(gaussian_bank_1d(), **kwargs)


def test_not_a_bank():
    with pytest.raises(TypeError, match="bank"):
        plot_bank(np.zeros((3, 16)))


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("lowpass", [False, True])
def test_any_bank_builds(ndim, complex_, lowpass):
    if ndim == 1:
        bank = gaussian_bank_1d(n=64, lowpass=lowpass, meta={"theta": [0.1, 0.2, 0.3, 0.4]})
        if complex_:
            shift = np.exp(2j * np.pi * np.fft.fftfreq(64) * 5)
            bank = FilterBank(bank.psi * shift, bank.phi, bank.meta)
    else:
        bank = gaussian_bank_2d(complex_=complex_, lowpass=lowpass,
                                meta={"kind": ["a", "b", "c", "d", "e"]})
    assert bank.is_real != complex_
    fig = plot_bank(bank, max_filters=3)
    assert any("Littlewood-Paley" in t for t in titles(fig))
    assert any(t.startswith("$\\phi$") for t in titles(fig)) == lowpass


def test_draws_into_a_subfigure():
    from matplotlib.figure import Figure

    outer = Figure(figsize=(8, 4), layout="constrained")
    left, right = outer.subfigures(1, 2)
    assert plot_bank(gaussian_bank_1d(), spatial=False, fig=left, title="left") is left
    plot_bank(gaussian_bank_2d(), spatial=False, fig=right)
    assert len(outer.get_axes()) == 2 + 4  # 1D: spectra + LP; 2D: tiling + LP, each with a colour bar
    with pytest.raises(TypeError, match="fig"):
        plot_bank(gaussian_bank_1d(), fig="figure")
