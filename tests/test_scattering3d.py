"""HarmonicScattering3D and the solid harmonic bank: Kymatio's numbers, the harmonics, the
Littlewood-Paley sum, rotation covariance, API and bad input.

Kymatio 0.3's 3D filters call ``scipy.special.sph_harm``, which SciPy 1.15 deprecated and later
removed; the oracle fixture supplies it from ``sph_harm_y`` (our code uses neither). Kymatio's
3D transform takes about a second per small call: the oracle cases stay at 16^3-24^3, batch 2.
"""
import math

import numpy as np
import pytest
import scipy.special
import torch

from scatter import HarmonicScattering3D, ScatteringError, ScatteringShapeError, ScatteringTypeError
from scatter.core import cascade3d
from scatter.filters import FilterBank, kymatio_grid_3d, solid_harmonic_3d, solid_harmonic_norm, \
    solid_harmonics

from _oracles import INSTALL, REASON


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)        # torch.rand inputs: the same in every run


def _old_sph_harm(m, n, theta, phi):
    """SciPy < 1.17's ``sph_harm(m, n, theta=azimuth, phi=polar)`` from ``sph_harm_y(n, m,
    theta=polar, phi=azimuth)``."""
    return scipy.special.sph_harm_y(n, m, phi, theta)


@pytest.fixture(scope="module")
def kymatio3d():
    """Kymatio's torch HarmonicScattering3D and filter bank (skips where Kymatio is absent)."""
    if not hasattr(scipy.special, "sph_harm"):
        scipy.special.sph_harm = _old_sph_harm     # read by Kymatio at its import
    try:
        from kymatio.torch import HarmonicScattering3D as Kymatio3D
        from kymatio.scattering3d import filter_bank
    except ImportError:
        pytest.skip(f"kymatio {REASON}: {INSTALL}")
    return Kymatio3D, filter_bank


def rel_err_per_entry(out, ref):
    """Largest error over the batch relative to each output entry's largest magnitude (the
    entries span many orders of magnitude: powers 0.5 to 2, scales, degrees)."""
    out, ref = np.asarray(out, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float((np.abs(out - ref).max(0) / np.abs(ref).max(0)).max())


def densities(batch, shape, n_atoms=6, width=1.5, seed=0, dtype=np.float32):
    """Sums of Gaussians ("molecules") on the grid, away from the borders."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), -1)
    out = np.zeros((batch, *shape))
    for b in range(batch):
        for _ in range(n_atoms):
            centre = rng.uniform(0.3, 0.7, 3) * np.array(shape)
            out[b] += rng.uniform(1, 8) * np.exp(-((grid - centre) ** 2).sum(-1) / (2 * width ** 2))
    return out.astype(dtype)


# ------------------------------------------------------------------------------ the oracle
ORACLE = [  # shape, J, L, rotation_covariant, max_order, integral_powers
    ((16, 16, 16), 2, 3, True, 2, (0.5, 1.0, 2.0)),
    ((16, 16, 16), 2, 3, False, 2, (0.5, 1.0, 2.0)),
    ((24, 24, 24), 1, 2, True, 1, (1.0, 1.5)),
    ((16, 20, 24), 2, 1, True, 2, (0.5, 2.0, 3.0)),
    ((17, 16, 15), 1, 3, False, 1, (0.5, 1.0, 2.0)),
    ((20, 20, 20), 3, 2, True, 2, (2.0,)),
]


@pytest.mark.parametrize("shape,J,L,covariant,order,powers", ORACLE)
def test_equals_kymatio_float32(kymatio3d, shape, J, L, covariant, order, powers):
    Kymatio3D, _ = kymatio3d
    x = torch.from_numpy(np.random.default_rng(J + L).random((2, *shape)).astype(np.float32))
    kw = dict(L=L, rotation_covariant=covariant, max_order=order, integral_powers=powers)
    ref = Kymatio3D(J, shape, **kw)(x)
    out = HarmonicScattering3D(J, shape, **kw)(x)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert rel_err_per_entry(out, ref) <= 1e-5


def test_equals_kymatio_densities_and_lead_dims(kymatio3d):
    """Molecule-like densities, sigma_0 = 2, a batch of shape (2, 1)."""
    Kymatio3D, _ = kymatio3d
    x = torch.from_numpy(densities(2, (24, 24, 24))).reshape(2, 1, 24, 24, 24)
    ref = Kymatio3D(2, (24, 24, 24), L=2, sigma_0=2)(x)
    out = HarmonicScattering3D(2, (24, 24, 24), L=2, sigma_0=2)(x)
    assert out.shape == ref.shape == (2, 1, 6, 3, 3)
    assert rel_err_per_entry(out.reshape(2, -1), ref.reshape(2, -1)) <= 1e-5


@pytest.mark.parametrize("shape", [(8, 8, 8), (6, 10, 12), (5, 7, 9)])
def test_bank_equals_kymatio(kymatio3d, shape):
    _, filter_bank = kymatio3d
    J, L, sigma_0 = 2, 4, 1.5
    ref = filter_bank.solid_harmonic_filter_bank(*shape, J, L, sigma_0)     # [l] (J+1, 2l+1, ...)
    ref = np.concatenate([f.reshape(-1, *shape) for f in ref])
    bank = solid_harmonic_3d(shape, J, L, sigma_0)
    assert bank.psi.shape == ref.shape
    assert np.abs(bank.psi - ref).max() <= 1e-6 * np.abs(ref).max()       # Kymatio's are complex64


# -------------------------------------------------------------------------- the harmonics
@pytest.mark.parametrize("l", range(6))
def test_solid_harmonics_equal_scipy(l):
    rng = np.random.default_rng(l)
    x, y, z = rng.standard_normal((3, 200)) * 2
    r = np.sqrt(x * x + y * y + z * z)
    polar, azimuth = np.arccos(z / r), np.arctan2(y, x)
    ref = np.stack([r ** l * scipy.special.sph_harm_y(l, m, polar, azimuth) for m in range(-l, l + 1)])
    assert np.abs(solid_harmonics(x, y, z, l) - ref).max() <= 1e-12 * max(1.0, np.abs(ref).max())


def test_solid_harmonics_are_harmonic_polynomials():
    """Homogeneous of degree l, and the addition theorem sum_m |Y_l^m|^2 = (2l + 1) / (4 pi)."""
    rng = np.random.default_rng(0)
    x, y, z = rng.standard_normal((3, 50))
    r2 = x * x + y * y + z * z
    for l in range(5):
        Y = solid_harmonics(x, y, z, l)
        np.testing.assert_allclose(solid_harmonics(3 * x, 3 * y, 3 * z, l), 3 ** l * Y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose((np.abs(Y) ** 2).sum(0), (2 * l + 1) / (4 * np.pi) * r2 ** l, rtol=1e-12)
    assert np.all(solid_harmonics(0.0, 0.0, 0.0, 3) == 0)                # no NaN at the origin


# ------------------------------------------------------------------------------- the bank
def test_bank_metadata_and_3d_filterbank():
    bank = solid_harmonic_3d((12, 12, 12), J=2, L=3, sigma_0=1.0)
    assert isinstance(bank, FilterBank) and bank.ndim == 3 and bank.shape == (12, 12, 12)
    assert len(bank) == 3 * 16 and bank.phi is None and not bank.is_real
    assert bank.meta["l"].tolist()[:4] == [0, 0, 0, 1]
    assert bank.meta["sigma"].tolist()[:3] == [1.0, 2.0, 4.0]
    for k in range(len(bank)):
        assert abs(bank.meta["m"][k]) <= bank.meta["l"][k]
    spatial, phi = bank.spatial()
    assert spatial.shape == (48, 12, 12, 12) and phi is None
    # the l = 0 filters are centred Gaussians: their maximum at the grid's centre
    assert np.unravel_index(np.abs(spatial[0]).argmax(), (12, 12, 12)) == (6, 6, 6)
    assert repr(bank).startswith("FilterBank(name='solid_harmonic', shape=(12, 12, 12)")


def test_littlewood_paley_sum_is_radial_and_analytic():
    shape, J, L, sigma_0 = (16, 16, 16), 2, 3, 1.0
    bank = solid_harmonic_3d(shape, J, L, sigma_0)
    k0, k1, k2 = kymatio_grid_3d(shape)
    w2 = sum((2 * np.pi * k / n) ** 2 for k, n in zip((k0, k1, k2), shape))
    expected = np.zeros(shape)
    for j in range(J + 1):
        s = sigma_0 * 2 ** j
        expected += np.exp(-s * s * w2)                                                      # l = 0
        for l in range(1, L + 1):
            c = (2 * np.pi) ** 1.5 * solid_harmonic_norm(l) * s ** l
            expected += c * c * w2 ** l * (2 * l + 1) / (4 * np.pi) * np.exp(-s * s * w2)
    lp = bank.littlewood_paley(real_signals=False)
    np.testing.assert_allclose(lp, expected, rtol=1e-12, atol=1e-14)
    lo, hi = bank.frame_bounds(real_signals=False)
    assert lo > 0 and hi == pytest.approx(lp.max())


def test_bank_plot_3d(tmp_path):
    pytest.importorskip("matplotlib")
    bank = solid_harmonic_3d((16, 16, 16), J=1, L=2)
    fig = bank.plot(max_filters=6)
    assert len(fig.axes) >= 4
    fig.savefig(tmp_path / "bank3d.png")


def test_filterbank_refuses_4d():
    with pytest.raises(ValueError, match="1D, 2D or 3D"):
        FilterBank(np.zeros((2, 4, 4, 4, 4)), None, {})


# -------------------------------------------------------------------- rotation covariance
@pytest.mark.parametrize("dims", [(1, 2), (1, 3), (2, 3)])
def test_rotation_by_90_degrees_leaves_covariant_invariants_unchanged(dims):
    x = torch.from_numpy(densities(2, (24, 24, 24), width=2.0, dtype=np.float64))
    S = HarmonicScattering3D(2, (24, 24, 24), L=3)
    out, rotated = S(x), S(torch.rot90(x, 1, dims))
    assert rel_err_per_entry(rotated, out) <= 1e-9


def test_non_covariant_invariants_change_under_rotation():
    """The property the covariant sum over m buys (the test above could fail): |x * psi_{l,-l}|
    alone changes when axis 0 (Kymatio's z) is rotated into another axis."""
    x = torch.from_numpy(densities(2, (24, 24, 24), width=2.0, dtype=np.float64))
    S = HarmonicScattering3D(2, (24, 24, 24), L=3, rotation_covariant=False)
    out, rotated = S(x), S(torch.rot90(x, 1, (1, 3)))
    assert rel_err_per_entry(rotated, out) > 1e-3


def test_translation_invariance_circular():
    x = torch.from_numpy(densities(1, (16, 16, 16), dtype=np.float64))
    S = HarmonicScattering3D(1, (16, 16, 16), L=2)
    assert rel_err_per_entry(S(torch.roll(x, (3, -5, 7), (1, 2, 3))), S(x)) <= 1e-10


# ------------------------------------------------------------------------- API and outputs
def test_meta_describes_every_entry():
    J, L, powers = 2, 2, (0.5, 1.0, 2.0)
    S = HarmonicScattering3D(J, (16, 16, 16), L=L, integral_powers=powers)
    meta = S.meta()
    out = S(torch.rand(1, 16, 16, 16))
    assert meta["order"].shape == meta["l"].shape == meta["power"].shape == out.shape[1:]
    assert meta["j"].shape == out.shape[1:] + (2,)
    assert S.output_size() == out.shape[1] == (J + 1) + J * (J + 1) // 2
    assert meta["order"][:, 0, 0].tolist() == [1, 1, 1, 2, 2, 2]
    assert meta["j"][3:, 0, 0].tolist() == [[0, 1], [0, 2], [1, 2]]
    assert np.isnan(meta["j"][:3, 0, 0, 1]).all() and meta["j"][:3, 0, 0, 0].tolist() == [0, 1, 2]
    assert meta["l"][0, :, 0].tolist() == [0, 1, 2] and meta["power"][0, 0].tolist() == list(powers)
    # the power-1 integral of the order-1 l = 0 modulus at j is the sum of x * Gaussian = sum(x)
    x = torch.rand(2, 16, 16, 16, dtype=torch.float64)
    sums = S(x)[:, meta["order"][:, 0, 0] == 1, 0, 1]
    np.testing.assert_allclose(sums, x.sum((1, 2, 3))[:, None].expand(2, 3), rtol=1e-10)


def test_numpy_float64_and_batch_shapes():
    S = HarmonicScattering3D(1, (12, 12, 12), L=1, max_order=1)
    x = np.random.default_rng(0).random((2, 3, 12, 12, 12))
    out = S(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (2, 3, 2, 2, 3)
    single = S.scattering(x[1, 2])
    assert single.shape == (2, 2, 3)
    np.testing.assert_allclose(single, out[1, 2], rtol=1e-12)
    out32 = S(x.astype(np.float32))
    assert out32.dtype == np.float32 and rel_err_per_entry(out32.reshape(6, -1), out.reshape(6, -1)) < 1e-5


def test_chunking_does_not_change_the_output():
    S = HarmonicScattering3D(2, (12, 12, 12), L=2)
    x = torch.rand(3, 12, 12, 12, dtype=torch.float64)
    filters = S._plain_filters(torch.float64)
    whole = cascade3d(x, filters)
    tiny = cascade3d(x, filters, max_elements=12 ** 3 * 2)   # one density, 2 orders m at a time
    torch.testing.assert_close(tiny, whole, rtol=1e-12, atol=0)
    S.batch_size = 2
    torch.testing.assert_close(S(x), whole, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_cpu_engine_equals_plain_cascade(two_threads, monkeypatch, dtype, tol):
    """The CPU inference engine (worker threads, in-place FFTs, chunks) against the plain cascade
    (autograd path), also with tiny chunks: one density per chunk, two orders m at a time.
    (float32: other FFTs and sums, up to about 2.5e-6 per value over 30 seeds.)"""
    from scatter.engine.cpu3d import CpuEngine3D

    S = HarmonicScattering3D(2, (12, 10, 8), L=3)
    x = torch.rand(5, 12, 10, 8, dtype=dtype, generator=torch.Generator().manual_seed(0))
    plain = cascade3d(x, S._plain_filters(dtype))
    assert S._use_engine(x)
    torch.testing.assert_close(S(x), plain, rtol=tol, atol=0)
    monkeypatch.setattr(CpuEngine3D, "_TARGET", 12 * 10 * 8 * 2)
    S._engines.clear()            # a new engine, with the patched target
    torch.testing.assert_close(S(x), plain, rtol=tol, atol=0)
    S.release_workspace()
    torch.testing.assert_close(S(x[:2]), plain[:2], rtol=tol, atol=0)
    # covariant off and order 1 through the engine too
    S.rotation_covariant, S.max_order = False, 1
    torch.testing.assert_close(S(x), cascade3d(x, S._plain_filters(dtype)), rtol=tol, atol=0)


def test_gradient_matches_finite_differences():
    S = HarmonicScattering3D(1, (8, 8, 8), L=1)
    x = torch.rand(1, 8, 8, 8, dtype=torch.float64) + 0.5
    v = torch.randn_like(x)
    w = torch.randn(S(x).shape, dtype=torch.float64)
    x.requires_grad_(True)
    (S(x) * w).sum().backward()
    eps = 1e-6
    with torch.no_grad():
        numeric = ((S(x + eps * v) - S(x - eps * v)) * w).sum() / (2 * eps)
    assert float((x.grad * v).sum()) == pytest.approx(float(numeric), rel=1e-6)


def test_reassigning_a_parameter_rebuilds():
    S = HarmonicScattering3D(1, (8, 8, 8), L=1)
    x = torch.rand(1, 8, 8, 8)
    assert S(x).shape == (1, 3, 2, 3)
    S.max_order = 1
    S.integral_powers = [2.0]
    assert S(x).shape == (1, 2, 2, 1)
    with pytest.raises(ValueError, match="integral_powers"):
        S.integral_powers = ()
    assert S(x).shape == (1, 2, 2, 1) and S.integral_powers == [2.0]


def test_loads_kymatio_state_dict(kymatio3d):
    Kymatio3D, _ = kymatio3d
    theirs = Kymatio3D(1, (8, 8, 8), L=1)
    model = torch.nn.Sequential(HarmonicScattering3D(1, (8, 8, 8), L=1))
    model.load_state_dict(torch.nn.Sequential(theirs).state_dict(), strict=True)


# ---------------------------------------------------------------------------- bad input
def test_bad_inputs():
    S = HarmonicScattering3D(1, (8, 8, 8), L=1)
    with pytest.raises(ScatteringShapeError, match=r"\(8, 8, 8\)") as info:
        S(torch.zeros(2, 8, 8, 9))
    assert isinstance(info.value, RuntimeError)                    # what Kymatio raises
    with pytest.raises(ScatteringShapeError, match="at least 3"):
        S(torch.zeros(8, 8))
    with pytest.raises(ScatteringTypeError):
        S(torch.zeros(1, 8, 8, 8, dtype=torch.int64))
    with pytest.raises(ScatteringTypeError):
        S(torch.zeros(1, 8, 8, 8, dtype=torch.complex64))
    x = torch.zeros(1, 8, 8, 8)
    x[0, 1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        S(x)
    with pytest.raises(TypeError, match="torch.Tensor or a numpy.ndarray"):
        S([[[0.0]]])
    empty = S(torch.zeros(0, 8, 8, 8))
    assert empty.shape == (0, 3, 2, 3)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"method": "local"}, ScatteringError, "method must be one of \\['integral'\\]"),
    ({"points": np.zeros((1, 2, 3))}, ScatteringError, "points"),
    ({"max_order": 3}, ValueError, "max_order"),
    ({"J": -1}, ValueError, "J must be >= 0"),
    ({"J": 1.5}, TypeError, "J must be an integer"),
    ({"L": -1}, ValueError, "L must be >= 0"),
    ({"sigma_0": 0}, ValueError, "sigma_0 must be > 0"),
    ({"sigma_0": float("nan")}, ValueError, "sigma_0"),
    ({"shape": (8, 8)}, ValueError, "shape"),
    ({"integral_powers": ()}, ValueError, "integral_powers"),
    ({"integral_powers": (1.0, -2.0)}, ValueError, r"integral_powers\[1\] must be > 0"),
    ({"integral_powers": 2.0}, TypeError, "integral_powers"),
    ({"integral_powers": "12"}, TypeError, "integral_powers"),
    ({"rotation_covariant": "yes"}, TypeError, "rotation_covariant"),
    ({"backend": "numpy"}, ImportError, "backend"),
])
def test_bad_parameters(kwargs, error, match):
    args = {"J": 1, "shape": (8, 8, 8), "L": 1}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        HarmonicScattering3D(**args)


def test_method_error_is_what_kymatio_users_catch():
    with pytest.raises(ValueError):       # Kymatio's torch frontend raises ValueError
        HarmonicScattering3D(1, (8, 8, 8), method="local")
    with pytest.raises(RuntimeError):
        HarmonicScattering3D(1, (8, 8, 8), method="local")
