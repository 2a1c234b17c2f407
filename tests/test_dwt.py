"""Torch DWT/IDWT against PyWavelets (periodization), its FilterBank view, gradients, bad input.

The other boundary modes, the n-dimensional and the stationary transforms: test_dwt_modes.py.
"""
import warnings

import numpy as np
import pytest
import torch

from scatter.filters.dwt import DWT1d, DWT2d, IDWT1d, IDWT2d, dwt_bank, dwt_filter_bank

pywt = pytest.importorskip("pywt")

WAVELETS = ["haar", "db4", "sym8", "coif3", "bior4.4"]
# PyWavelets' own coefficients of these two are perfect-reconstruction only to ~1e-12
# (pywt.waverec(pywt.wavedec(x)) misses x by 9e-13 for sym8 and 5e-12 for bior4.4 at |x| ~ 4,
# and sum(dec_hi) is 2e-12 and 1.4e-12): we use them unchanged, so our reconstruction and zero
# means can be no better than pywt's. The others are exact to ~1e-15.
COARSE = {"sym8", "bior4.4"}


@pytest.fixture(autouse=True)
def _quiet_pywt():
    # pywt warns when a level exceeds dwt_max_level (boundary effects): expected here
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Level value of", category=UserWarning)
        yield


def pywt_roundtrip_error(x, wavelet, level, two_d):
    dec, rec = (pywt.wavedec2, pywt.waverec2) if two_d else (pywt.wavedec, pywt.waverec)
    out = rec(dec(x, wavelet, mode="periodization", level=level), wavelet, mode="periodization")
    sl = (..., slice(x.shape[-2]), slice(x.shape[-1])) if two_d else (..., slice(x.shape[-1]))
    return np.abs(out[sl] - x).max()


def reconstruction_tolerance(x, wavelet, level, two_d):
    if wavelet in COARSE:
        return 2 * pywt_roundtrip_error(x, wavelet, level, two_d) + 1e-14
    return 1e-12


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("n,level", [(64, 1), (64, 4), (37, 3), (50, 2), (9, 2)])
def test_dwt1d_matches_pywt(wavelet, n, level):
    rng = np.random.default_rng(n + level)
    x = rng.standard_normal((2, 3, n))
    ref = pywt.wavedec(x, wavelet, mode="periodization", level=level)
    out = DWT1d(wavelet, level, mode="periodization")(torch.from_numpy(x))
    assert len(out) == level + 1
    for o, r in zip(out, ref):
        assert o.shape == r.shape and o.dtype == torch.float64
        assert np.abs(o.numpy() - r).max() <= 1e-12
    idwt = IDWT1d(wavelet, mode="periodization")
    # pywt's waverec output (even length) and the original signal (output_size=n)
    ref_rec = pywt.waverec(ref, wavelet, mode="periodization")
    assert np.abs(idwt(out).numpy() - ref_rec).max() <= 1e-12
    rec = idwt(out, output_size=n).numpy()
    assert np.abs(rec - x).max() <= reconstruction_tolerance(x, wavelet, level, False)


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("shape,level", [((32, 48), 1), ((32, 48), 3), ((33, 27), 2), ((16, 5), 2)])
def test_dwt2d_matches_pywt(wavelet, shape, level):
    rng = np.random.default_rng(sum(shape) + level)
    x = rng.standard_normal((2,) + shape)
    ref = pywt.wavedec2(x, wavelet, mode="periodization", level=level)
    out = DWT2d(wavelet, level, mode="periodization")(torch.from_numpy(x))
    assert np.abs(out[0].numpy() - ref[0]).max() <= 1e-12
    for d, r in zip(out[1:], ref[1:]):
        assert d.shape == (2, 3) + r[0].shape[1:]
        assert np.abs(d.numpy() - np.stack(r, axis=-3)).max() <= 1e-12
    idwt = IDWT2d(wavelet, mode="periodization")
    ref_rec = pywt.waverec2(ref, wavelet, mode="periodization")
    assert np.abs(idwt(out).numpy() - ref_rec).max() <= 1e-12
    rec = idwt(out, output_size=shape).numpy()
    assert rec.shape == x.shape
    assert np.abs(rec - x).max() <= reconstruction_tolerance(x, wavelet, level, True)


def test_pywt_coefficient_precision_is_the_limit():
    """Why COARSE exists: the filters themselves miss perfect reconstruction by ~1e-12."""
    for name in WAVELETS:
        w = pywt.Wavelet(name)
        lo, hi, rlo, rhi = (np.array(f) for f in w.filter_bank)
        total = np.convolve(lo, rlo) + np.convolve(hi, rhi)  # should be 2 delta(n - delay)
        total[np.argmax(np.abs(total))] -= 2
        residual = np.abs(total).max()
        assert (residual > 1e-13) == (name in COARSE), (name, residual)


def test_leading_batch_dims_float32_and_single_signal():
    x = torch.randn(2, 3, 4, 40, 24, dtype=torch.float32)
    out = DWT2d("db4", 2, mode="periodization")(x)
    assert out[0].shape == (2, 3, 4, 10, 6) and out[1].shape == (2, 3, 4, 3, 10, 6)
    assert out[0].dtype == torch.float32
    rec = IDWT2d("db4", mode="periodization")(out)
    assert torch.allclose(rec, x, atol=1e-5)
    # a single image and a batch give the same coefficients (no silent batch mix-up)
    single = DWT2d("db4", 2, mode="periodization")(x[1, 2, 3])
    for s, b in zip(single, out):
        assert torch.allclose(s, b[1, 2, 3], atol=1e-6)
    y = torch.randn(7, dtype=torch.float64)
    out1 = DWT1d("haar", 2, mode="periodization")(y)
    assert [o.shape[-1] for o in out1] == [2, 2, 4]
    assert torch.allclose(IDWT1d("haar", mode="periodization")(out1, output_size=7), y,
                          atol=1e-14)


def test_float32_and_repr():
    x = torch.randn(3, 64, dtype=torch.float32)
    m = DWT1d("sym8", 3, mode="periodization")
    out = m(x)
    assert all(o.dtype == torch.float32 for o in out)
    ref = pywt.wavedec(x.double().numpy(), "sym8", mode="periodization", level=3)
    assert max(np.abs(o.double().numpy() - r).max() for o, r in zip(out, ref)) < 1e-5
    assert "sym8" in repr(m) and "level=3" in repr(m)


def test_gradcheck():
    x = torch.randn(1, 12, 10, dtype=torch.float64, requires_grad=True)
    dwt, idwt = DWT2d("db4", 2), IDWT2d("db4")
    assert torch.autograd.gradcheck(lambda t: tuple(dwt(t)), (x,))
    coeffs = [c.detach().requires_grad_(True) for c in dwt(x)]
    assert torch.autograd.gradcheck(lambda *c: idwt(list(c)), tuple(coeffs))
    y = torch.randn(2, 13, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: tuple(DWT1d("bior4.4", 2)(t)), (y,))
    c1 = [c.detach().requires_grad_(True) for c in DWT1d("sym8", 2)(y)]
    assert torch.autograd.gradcheck(lambda *c: IDWT1d("sym8")(list(c), output_size=13), tuple(c1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    x = torch.randn(4, 64, 48, dtype=torch.float64)
    cpu = DWT2d("sym8", 3)(x)
    gpu = DWT2d("sym8", 3).cuda()(x.cuda())
    for a, b in zip(cpu, gpu):
        assert torch.allclose(a, b.cpu(), atol=1e-12)
    assert torch.allclose(IDWT2d("sym8").cuda()(gpu).cpu(), IDWT2d("sym8")(cpu), atol=1e-12)


def test_dwt_bank_uses_pywt_coefficients():
    for name in WAVELETS:
        w = pywt.Wavelet(name)
        bank = dwt_bank(name)
        ours_all = (bank.dec_lo, bank.dec_hi, bank.rec_lo, bank.rec_hi)
        for ours, theirs in zip(ours_all, w.filter_bank):
            assert np.array_equal(ours.numpy(), np.array(theirs))
        assert bank.length == w.dec_len
        reversed_dec = torch.stack([bank.dec_lo.flip(0), bank.dec_hi.flip(0)])
        assert torch.equal(bank.analysis_1d[:, 0], reversed_dec)
        # 2D weights are outer products in the order (aa, da, ad, dd)
        lo, hi = bank.analysis_1d[0, 0], bank.analysis_1d[1, 0]
        assert torch.equal(bank.analysis_2d[1, 0], torch.outer(hi, lo))
        assert torch.equal(bank.analysis_2d[2, 0], torch.outer(lo, hi))
        assert bank.synthesis_2d.shape == (1, 4, w.dec_len, w.dec_len)
    assert dwt_bank(pywt.Wavelet("db2"), dtype=torch.float32).dec_lo.dtype == torch.float32


@pytest.mark.parametrize("wavelet", ["db4", "bior4.4"])
def test_dwt_bank_conv_weights_as_documented(wavelet):
    """The conv recipe of DWTFilters' docstring gives pywt's dwt/idwt and dwt2."""
    import torch.nn.functional as F

    bank = dwt_bank(wavelet)
    L, n = bank.length, 24
    x = torch.randn(3, 1, n, dtype=torch.float64)
    xp = x[..., (torch.arange(n + L - 2) - (L - 1 - L // 2)) % n]
    lo_hi = F.conv1d(xp, bank.analysis_1d, stride=2)
    cA, cD = pywt.dwt(x.numpy(), wavelet, mode="periodization")
    assert np.abs(lo_hi[:, :1].numpy() - cA).max() <= 1e-12
    assert np.abs(lo_hi[:, 1:].numpy() - cD).max() <= 1e-12
    u = torch.stack([lo_hi, torch.zeros_like(lo_hi)], dim=-1).flatten(-2)
    rec = F.conv1d(u[..., (torch.arange(n + L - 1) - L // 2) % n], bank.synthesis_1d)
    assert np.abs(rec.numpy() - pywt.idwt(cA, cD, wavelet, mode="periodization")).max() <= 1e-12
    img = torch.randn(2, 1, n, n, dtype=torch.float64)
    idx = (torch.arange(n + L - 2) - (L - 1 - L // 2)) % n
    out = F.conv2d(img[..., idx, :][..., idx], bank.analysis_2d, stride=2)
    cA2, details = pywt.dwt2(img.numpy()[:, 0], wavelet, mode="periodization")
    ref = np.stack([cA2, *details], axis=1)  # (aa, da, ad, dd) = (cA, cH, cV, cD)
    assert np.abs(out.numpy() - ref).max() <= 1e-12


# ------------------------------------------------------------------------------ FilterBank view
@pytest.mark.parametrize("wavelet", WAVELETS)
def test_filter_bank_view_samples_the_dwt(wavelet):
    """DWT coefficients = the bank's circular convolutions sampled every 2^(j+1) samples."""
    rng = np.random.default_rng(1)
    shape, level = (64, 96), 3
    bank = dwt_filter_bank(wavelet, shape, level)
    assert bank.psi.shape == (9,) + shape
    x = rng.standard_normal(shape)
    X = np.fft.fft2(x)
    ref = pywt.wavedec2(x, wavelet, mode="periodization", level=level)
    for k in range(len(bank)):
        j, theta = bank.meta["j"][k], bank.meta["theta"][k]
        step = 2 ** (j + 1)
        assert bank.meta["decimation"][k] == step
        y = np.fft.ifft2(X * bank.psi[k] * 2.0 ** (j + 1))[::step, ::step]
        assert np.abs(y - ref[level - j][theta]).max() <= 1e-12
    approx = np.fft.ifft2(X * bank.phi * 2.0 ** level)[::2 ** level, ::2 ** level]
    assert np.abs(approx - ref[0]).max() <= 1e-12
    # 1D too, on a grid shorter than sym8's filters at the coarse level
    b1 = dwt_filter_bank(wavelet, 32, 4)
    x1 = rng.standard_normal(32)
    ref1 = pywt.wavedec(x1, wavelet, mode="periodization", level=4)
    for j in range(4):
        y = np.fft.ifft(np.fft.fft(x1) * b1.psi[j] * 2.0 ** ((j + 1) / 2))[::2 ** (j + 1)]
        assert np.abs(y - ref1[4 - j]).max() <= 1e-12


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_filter_bank_zero_mean_and_littlewood_paley(wavelet):
    w = pywt.Wavelet(wavelet)
    for shape in [(64, 48), (128,)]:
        bank = dwt_filter_bank(wavelet, shape, 4)
        dc = np.abs(bank.psi.reshape(len(bank), -1)[:, 0])
        # zero mean: exactly what pywt's high-pass sums to (<= 1e-12 except sym8/bior4.4)
        bound = 1e-12 if wavelet not in COARSE else 1.01 * abs(sum(w.dec_hi)) / np.sqrt(2) + 1e-16
        assert dc.max() <= bound
        lower, upper = bank.frame_bounds()
        print(f"dwt {wavelet} {shape} level 4 undecimated LP bounds: {lower:.15f} {upper:.15f}")
        if w.orthogonal:
            # orthogonal: the normalised undecimated bank is a Parseval frame (LP sum == 1)
            assert abs(lower - 1) <= 2e-12 and abs(upper - 1) <= 2e-12
        else:
            assert 0.5 < lower < 0.9 and 1.05 < upper < 1.3  # bior4.4: measured 0.72..1.22


def test_filter_bank_meta():
    bank = dwt_filter_bank("db4", (32, 32), 2)
    assert list(bank.meta["j"]) == [0, 0, 0, 1, 1, 1]
    assert list(bank.meta["theta"]) == [0, 1, 2] * 2
    assert list(bank.meta["kind"]) == ["da", "ad", "dd"] * 2
    assert bank.params["orthogonal"] and bank.name == "dwt"
    b1 = dwt_filter_bank("db4", 32, 3)
    assert list(b1.meta["j"]) == [0, 1, 2] and set(b1.meta["kind"]) == {"d"}


# ---------------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="wavelet.*wavelist.*'db4'"):
        DWT1d("db99")
    with pytest.raises(ValueError, match="wavelet"):
        dwt_bank("morl")  # continuous
    with pytest.raises(ValueError, match="wavelet"):
        dwt_filter_bank(3, (8, 8), 1)
    with pytest.raises(ValueError, match="mode.*'symmetric'.*'antireflect'"):
        DWT2d("haar", 1, mode="sym")
    with pytest.raises(ValueError, match="level"):
        DWT1d("haar", 0)
    with pytest.raises(TypeError, match="level"):
        DWT2d("haar", 1.5)
    with pytest.raises(ValueError, match="shape"):
        dwt_filter_bank("haar", (8, 8, 8), 1)
    with pytest.raises(ValueError, match="level"):
        dwt_filter_bank("haar", (8, 8), -1)
    with pytest.raises(ValueError, match="x must have at least 2"):
        DWT2d("haar")(torch.randn(8))
    with pytest.raises(TypeError, match="floating"):
        DWT1d("haar")(torch.arange(8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        DWT1d("haar")(np.zeros(8))
    coeffs = DWT2d("haar", 2)(torch.randn(16, 16))
    with pytest.raises(ValueError, match="coeffs"):
        IDWT2d("haar")(coeffs[:1])
    with pytest.raises(ValueError, match=r"coeffs\[2\]"):
        IDWT2d("haar")([coeffs[0], coeffs[1], coeffs[2][..., :5, :]])
    with pytest.raises(ValueError, match="output_size"):
        IDWT2d("haar")(coeffs, output_size=(10, 16))
    with pytest.raises(ValueError, match=r"coeffs\[1\]"):
        IDWT1d("haar")([torch.randn(2, 4), torch.randn(3, 4)])
