"""Scattering2D fed by the curvelet bank: paths, metadata, resolutions and accuracy."""
import numpy as np
import pytest
import torch

from scatter.filters import curvelet_2d, morlet_2d
from scatter import Scattering2D


def _curvelets(J):
    return lambda grid: curvelet_2d(grid, scales=J + 1, angles=16)


def test_curvelet_scattering_paths_and_meta():
    J = 3
    S = Scattering2D(J, (64, 64), bank=_curvelets(J))
    js = S.bank.meta["j"]
    counts = np.bincount(js)
    # 16 wedges at the coarsest band-pass, doubling every other scale towards the finest; the real
    # bank pairs opposite wedges (theta, theta + pi) into one filter
    assert counts.tolist() == [16, 16, 8]
    assert S.bank.meta["n_angles"].tolist() == [16] * 32 + [8] * 8
    wedges = np.bincount(curvelet_2d(S.padded_shape, scales=J + 1, angles=16, real=False).meta["j"])
    assert wedges.tolist() == [32, 32, 16]
    pairs = sum(counts[j1] * counts[j2] for j1 in range(J) for j2 in range(j1 + 1, J))
    meta = S.meta()
    assert len(meta["order"]) == 1 + len(js) + pairs
    out = S(torch.randn(2, 64, 64))
    assert out.shape == (2, 1 + len(js) + pairs) + S.output_shape
    second = meta["j"][meta["order"] == 2]
    assert np.all(second[:, 1] > second[:, 0])
    assert set(meta["theta"][meta["order"] == 1, 0].astype(int)) == set(S.bank.meta["theta"].tolist())
    # curvelets reach 0.75 * 2**-j cycles/sample: their moduli are kept at resolution 2**(j-1)
    assert S._plan.res == {0: 0, 1: 0, 2: 1}
    assert Scattering2D(J, (64, 64))._plan.res == {0: 0, 1: 1, 2: 2}  # Morlet: Kymatio's 2**j


def _reference(bank, x, J):
    """Scattering computed at full resolution (no intermediate subsampling), float64 NumPy."""
    X = np.fft.fft2(x)
    lowpass = lambda u: np.real(np.fft.ifft2(np.fft.fft2(u) * bank.phi))[::2 ** J, ::2 ** J][1:-1, 1:-1]  # noqa: E731
    out = [lowpass(x)]
    u1 = [np.abs(np.fft.ifft2(X * psi)) for psi in bank.psi]
    out += [lowpass(u) for u in u1]
    js = bank.meta["j"]
    for n1, u in enumerate(u1):
        U = np.fft.fft2(u)
        out += [lowpass(np.abs(np.fft.ifft2(U * bank.psi[n2]))) for n2 in range(len(js)) if js[n2] > js[n1]]
    return np.stack(out)


@pytest.mark.parametrize("name,make", [("curvelet", _curvelets(2)), ("morlet", lambda g: morlet_2d(g, 2, L=4))])
def test_cascade_close_to_full_resolution(name, make):
    from skimage.data import camera

    J = 2
    x = camera()[200:232, 240:272].astype(np.float64) / 255
    S = Scattering2D(J, (32, 32), bank=make, pre_pad=False).double()
    padded = x[np.ix_(S._pad[0].numpy(), S._pad[1].numpy())]
    ref = _reference(S.bank, padded, J)
    out = S(x)
    error = np.abs(out - ref).max() / np.abs(ref).max()
    # subsampling the moduli aliases a little (Kymatio's trade-off): well under 1% for both families
    assert error < 1e-2, (name, error)


def test_curvelet_first_layer_conserves_energy():
    J = 2
    S = Scattering2D(J, (32, 32), bank=_curvelets(J), pre_pad=True)
    bank = S.bank
    x = np.random.default_rng(0).standard_normal(bank.shape)
    X = np.fft.fft2(x)
    energy = np.sum(np.abs(np.fft.ifft2(X * bank.phi)) ** 2)
    energy += sum(np.sum(np.abs(np.fft.ifft2(X * psi)) ** 2) for psi in bank.psi)
    assert energy == pytest.approx(np.sum(x ** 2), rel=1e-12)
