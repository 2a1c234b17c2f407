"""models.filter_compare: first-layer weights, comparison with analytic banks, figure, and a tiny
net whose first layer becomes Gabor-like on oriented gratings."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from scatter.filters import FilterBank, morlet_2d  # noqa: E402
from scatter.models import (CifarNet, FilterComparison, LeNet, compare_filters,  # noqa: E402
                    first_layer_filters, fit)


@pytest.fixture(scope="module")
def bank():
    return morlet_2d((32, 32), J=3, L=8)


def gabors(k, size=7, seed=0):
    """Random Gabor functions centred near the middle of a size x size grid."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size].astype(float)
    out = []
    for _ in range(k):
        x0, y0 = (size - 1) / 2 + rng.uniform(-0.5, 0.5, 2)
        th, f, ph = rng.uniform(0, np.pi), rng.uniform(0.1, 0.3), rng.uniform(-np.pi, np.pi)
        u = (x - x0) * np.cos(th) + (y - y0) * np.sin(th)
        env = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * 1.6 ** 2))
        out.append(env * np.cos(2 * np.pi * f * u + ph))
    return np.stack(out)


# ----------------------------------------------------------------------- first_layer_filters
def test_first_layer_filters_of_our_nets():
    net = CifarNet(kernel_size=11, first_channels=6, width=4)
    w = first_layer_filters(net)
    assert w.shape == (6, 3, 11, 11) and w.dtype == np.float64
    np.testing.assert_array_equal(w, net.features[0].weight.detach().double().numpy())
    w[:] = 0                       # a copy: the model is untouched
    assert net.features[0].weight.abs().sum() > 0
    assert first_layer_filters(LeNet()).shape == (6, 1, 5, 5)


def test_first_layer_filters_torchvision_layouts():
    # The layouts of torchvision's AlexNet (features[0]) and ResNet (conv1, bn1, ..., fc).
    alexnet = nn.Sequential()
    alexnet.features = nn.Sequential(nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(),
                                     nn.Conv2d(64, 192, 5, padding=2))
    alexnet.classifier = nn.Sequential(nn.Linear(192, 10))
    assert first_layer_filters(alexnet).shape == (64, 3, 11, 11)

    class ResNetLike(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.layer1 = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1))
            self.fc = nn.Linear(64, 10)

    net = ResNetLike()
    np.testing.assert_array_equal(first_layer_filters(net), net.conv1.weight.detach().numpy())


def test_first_layer_filters_execution_order():
    class HeadFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Conv2d(4, 2, 1)          # registered first, runs last
            self.stem = nn.Conv2d(3, 4, 5, padding=2)

        def forward(self, x):
            return self.head(self.stem(x))

    net = HeadFirst()
    assert first_layer_filters(net).shape == (2, 4, 1, 1)
    assert first_layer_filters(net, example_input=torch.zeros(1, 3, 8, 8)).shape == (4, 3, 5, 5)
    assert first_layer_filters(nn.ConvTranspose2d(3, 5, 4)).shape == (5, 3, 4, 4)


def test_first_layer_filters_errors():
    with pytest.raises(ValueError, match="no torch.nn.Conv2d layer.*Linear"):
        first_layer_filters(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="Conv2d"):
        first_layer_filters(nn.Sequential(nn.Conv1d(1, 2, 3)))
    with pytest.raises(TypeError, match="nn.Module"):
        first_layer_filters(np.zeros((2, 1, 3, 3)))


# ------------------------------------------------------------------------------ comparison
def test_bank_window_matches_itself(bank):
    psi, _ = bank.spatial()
    k, (dy, dx) = 3, (1, -1)
    c = 16
    window = psi[k, c - 3 + dy:c + 4 + dy, c - 3 + dx:c + 4 + dx]
    # Any phase of the quadrature pair is the same analytic filter.
    learned = np.stack([window.real, np.cos(0.7) * window.real + np.sin(0.7) * window.imag])
    result = compare_filters(learned, bank, fit=False)
    np.testing.assert_allclose(result.correlation, 1.0, atol=1e-9)
    np.testing.assert_array_equal(result.match_index, [k, k])
    np.testing.assert_array_equal(result.match_shift, [[dy, dx], [dy, dx]])
    np.testing.assert_allclose(result.match, learned, atol=1e-9)
    assert np.all(np.isnan(result.gabor_r2))
    # A centred window lies in the span of the centred windows.
    centred = compare_filters(psi[k, c - 3:c + 4, c - 3:c + 4].imag, bank, fit=False)
    assert centred.span_energy[0] > 0.99
    assert 0 < centred.chance_span_energy == centred.span_rank / 49 <= 1


def test_gabors_versus_noise(bank):
    rng = np.random.default_rng(1)
    good = compare_filters(gabors(12), bank)
    noise = compare_filters(rng.standard_normal((12, 7, 7)), bank)
    assert isinstance(good, FilterComparison) and len(good) == 12
    assert np.all(good.gabor_r2 > 0.95)
    assert np.median(noise.gabor_r2) < 0.5
    s_good, s_noise = good.summary(), noise.summary()
    assert s_good["frac_gabor"] == 1.0 and s_noise["frac_gabor"] < 0.2
    assert s_good["median_correlation"] > s_noise["median_correlation"] + 0.25
    # White noise fills the span at the chance rate; smooth Gabors lie (almost) inside it.
    assert abs(s_noise["median_span_energy"] - s_noise["chance_span_energy"]) < 0.1
    assert s_good["median_span_energy"] > max(0.97, s_good["chance_span_energy"])
    assert 0.1 < s_good["median_frequency"] < 0.3
    # Bandwidth at half magnitude: df = sqrt(ln 2 / 2) / (pi sigma) around f; a band reaching
    # zero frequency has an infinite octave bandwidth.
    f, sigma = good.gabor_params["frequency"], 1.6
    df = np.sqrt(np.log(2) / 2) / (np.pi * sigma)
    narrow = f > df + 0.03
    assert narrow.sum() >= 4 and np.all(np.isinf(good.bandwidth[f < df - 0.03]))
    expected = np.log2((f[narrow] + df) / (f[narrow] - df))
    np.testing.assert_allclose(good.bandwidth[narrow], expected, rtol=0.15)
    # The model-free spectral peak agrees with the fit's frequency.
    peak = np.hypot(*good.peak_frequency.T)
    np.testing.assert_allclose(peak, good.gabor_params["frequency"], atol=0.05)


def test_colour_reductions(bank):
    g = gabors(4, seed=2)
    colour = np.array([0.3, 0.6, -0.1])
    weights = torch.tensor(colour[None, :, None, None] * g[:, None], dtype=torch.float32)
    svd = compare_filters(weights, bank, fit=False)
    np.testing.assert_allclose(svd.channel_fraction, 1.0, atol=1e-6)
    scale = np.linalg.norm(colour)
    np.testing.assert_allclose(svd.spatial, scale * g, atol=1e-6)
    mean = compare_filters(weights, bank, reduce="mean", fit=False)
    np.testing.assert_allclose(mean.spatial, colour.mean() * g, atol=1e-6)
    np.testing.assert_allclose(mean.channel_fraction, 3 * colour.mean() ** 2 / scale ** 2,
                               rtol=1e-5)
    assert len(compare_filters(weights, bank, reduce="channels", fit=False)) == 12


def test_custom_array_bank():
    bank = gabors(5, size=15, seed=3)                   # real spatial filters, centred
    learned = bank[2, 4:11, 4:11]
    result = compare_filters(learned, bank, fit=False, max_shift=2)
    assert result.match_index[0] == 2 and result.correlation[0] > 1 - 1e-9
    assert result.summary()["frac_lowpass_match"] == 0.0
    assert result.bank_name == "custom" and result.bank_frequencies.shape == (5, 2)


def test_model_input_and_lowpass(bank):
    torch.manual_seed(0)
    net = CifarNet(first_channels=4, width=4)
    with torch.no_grad():       # a colour blob: best matched by the bank's low-pass
        net.features[0].weight[0] = torch.tensor(bank.spatial()[1][13:20, 13:20].real)
    result = compare_filters(net, bank, fit=False)
    assert len(result) == 4 and result.match_index[0] == len(bank)
    assert compare_filters(net, bank, fit=False, include_lowpass=False).match_index[0] < len(bank)


def test_compare_errors(bank):
    with pytest.raises(ValueError, match=r"at least \(11, 11\)"):
        compare_filters(np.zeros((2, 9, 9)) + 1, morlet_2d((10, 10), J=2), max_shift=1)
    with pytest.raises(ValueError, match="2D filter bank"):
        compare_filters(np.ones((1, 5, 5)), FilterBank(np.ones((2, 16)), None, {}))
    with pytest.raises(ValueError, match=r"\(K, C, h, w\)"):
        compare_filters(np.ones((1, 1, 1, 5, 5)), bank)
    with pytest.raises(ValueError, match="3x3"):
        compare_filters(np.ones((2, 2, 2)), bank)
    with pytest.raises(ValueError, match="NaN"):
        compare_filters(np.full((1, 5, 5), np.nan), bank)
    with pytest.raises(TypeError, match="bank"):
        compare_filters(np.ones((1, 5, 5)), [bank])
    with pytest.raises(ValueError, match=r"\(M, H, W\)"):
        compare_filters(np.ones((1, 5, 5)), np.ones((9, 9)))
    with pytest.raises(TypeError, match="learned"):
        compare_filters([[1.0]], bank)
    with pytest.raises(ValueError, match="reduce"):
        compare_filters(np.ones((1, 5, 5)), bank, reduce="max")
    with pytest.raises(ValueError, match="max_shift"):
        compare_filters(np.ones((1, 5, 5)), bank, max_shift=-1)
    with pytest.raises(ValueError, match="no torch.nn.Conv2d"):
        compare_filters(nn.Linear(2, 2), bank)


def test_figure(bank, tmp_path):
    result = compare_filters(gabors(6), bank)
    fig = result.plot(max_filters=4)
    # 4 pairs, frequency plane, a colour bar for each
    assert len(fig.axes) == 4 + 1 + 2
    assert [a.get_label() for a in fig.axes].count("<colorbar>") == 2
    fig.savefig(tmp_path / "compare.png", dpi=50)
    plt.close(fig)
    assert (tmp_path / "compare.png").stat().st_size > 1000
    with pytest.raises(TypeError, match="FilterComparison"):
        from scatter.models import plot_comparison
        plot_comparison(result.summary())


# ---------------------------------------------------------- learning makes filters Gabor-like
def oriented_gratings(n, size=16, seed=0):
    """Noisy full-field gratings; the class is the orientation (0, 45, 90 or 135 degrees)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    theta = labels * np.pi / 4 + rng.normal(0, 0.05, n)
    freq = rng.uniform(0.1, 0.25, n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    y, x = np.mgrid[:size, :size]
    u = x * np.cos(theta)[:, None, None] + y * np.sin(theta)[:, None, None]
    images = np.cos(2 * np.pi * freq * u + phase) + 0.3 * rng.standard_normal((n, size, size))
    return torch.tensor(images[:, None], dtype=torch.float32), torch.tensor(labels)


def test_training_on_gratings_makes_gabor_like_filters():
    x, y = oriented_gratings(512)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 7, padding=3, bias=False), nn.ReLU(),
                        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    bank = morlet_2d((16, 16), J=2, L=8)
    before = compare_filters(net, bank).summary()
    history = fit(net, (x, y), epochs=5, batch_size=64, optimizer="adam", lr=1e-2,
                  weight_decay=1e-3, seed=0, progress=False)
    after = compare_filters(net, bank).summary()
    assert history["accuracy"][-1] > 0.9
    assert before["median_r2"] < 0.4 and after["median_r2"] > before["median_r2"] + 0.3
    assert after["median_correlation"] > before["median_correlation"] + 0.25
    assert after["frac_gabor"] > before["frac_gabor"]


def test_gabor_bank_window():
    from scatter.filters.gabor import gabor_2d as gabor_bank

    bank = gabor_bank((32, 32), frequencies=[0.3, 0.15], L=4)
    psi, _ = bank.spatial()
    learned = psi[5, 13:20, 13:20].imag            # odd part of the 0.15 c/px filter at 45 degrees
    result = compare_filters(learned, bank)
    assert result.match_index[0] == 5 and result.correlation[0] > 1 - 1e-9
    assert result.gabor_r2[0] > 0.95
    np.testing.assert_allclose(result.gabor_params["frequency"], 0.15, atol=0.02)
    np.testing.assert_allclose(result.gabor_params["theta"], bank.meta["angle"][5], atol=0.05)
