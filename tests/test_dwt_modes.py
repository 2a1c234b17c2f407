"""Every PyWavelets boundary mode, the n-dimensional DWT and the stationary transform, against
PyWavelets (issue 24).

The full matrix (9 modes x 8 wavelets x odd/even sizes x every level up to pywt.dwt_max_level) is
one loop per dimension rather than thousands of test items: each loop names the failing case.
Tolerance: 1e-12 of the largest coefficient (float64); perfect reconstruction to 1e-12 of the
signal's scale, or twice PyWavelets' own reconstruction error where its filters are coarser
(sym8, bior4.4 and dmey, an FIR approximation of Meyer's wavelet, are not perfect-reconstruction
to 1e-12; see test_dwt.COARSE).
"""
import warnings

import numpy as np
import pytest
import torch

from scatter.filters import (DWT1d, DWT2d, DWTnd, IDWT1d, IDWT2d, IDWTnd, ISWT1d, ISWT2d, SWT1d,
                             SWT2d)
from scatter.filters._dwt_ops import MODES, extension

pywt = pytest.importorskip("pywt")

WAVELETS = ["haar", "db2", "db4", "sym8", "coif3", "bior4.4", "rbio3.1", "dmey"]
TOL = 1e-12


@pytest.fixture(autouse=True)
def _quiet_pywt():
    with warnings.catch_warnings():  # level beyond dwt_max_level, norm=True on biorthogonal
        warnings.simplefilter("ignore", UserWarning)
        yield


def _levels(sizes, wavelet):
    return range(1, max(1, pywt.dwt_max_level(min(sizes), pywt.Wavelet(wavelet).dec_len)) + 1)


def _flat(coeffs):
    """Every array of a pywt/ours coefficient structure, in order, as float64 NumPy."""
    out = []
    for c in coeffs:
        if isinstance(c, dict):
            out += [c[k] for k in sorted(c)]
        elif isinstance(c, (tuple, list)):
            out += _flat(c)
        else:
            out.append(c)
    return [np.asarray(o.detach().numpy() if isinstance(o, torch.Tensor) else o, np.float64)
            for o in out]


def _ours2d(coeffs):
    """Ours in pywt's 2D layout: (cH, cV, cD) unstacked."""
    return [coeffs[0]] + [tuple(d.unbind(-3)) for d in coeffs[1:]]


def _compare(case, ours, ref, failures, rec=None, rec_ref=None, x=None, rec_bound=None):
    a, b = _flat(ours), _flat(ref)
    if [o.shape for o in a] != [r.shape for r in b]:
        failures.append(f"{case}: shapes {[o.shape for o in a]} != pywt {[r.shape for r in b]}")
        return
    scale = max(np.abs(r).max() for r in b)
    err = max(np.abs(o - r).max() for o, r in zip(a, b)) / scale
    if err > TOL:
        failures.append(f"{case}: coefficients differ by {err:.1e} of the largest")
    if rec is not None:
        rec = rec.numpy()
        if rec.shape != rec_ref.shape:
            failures.append(f"{case}: inverse shape {rec.shape} != pywt {rec_ref.shape}")
            return
        err = np.abs(rec - rec_ref).max() / np.abs(rec_ref).max()
        if err > TOL:
            failures.append(f"{case}: inverse differs from pywt's by {err:.1e}")
        # perfect reconstruction: as good as PyWavelets' own (crop its extra odd sample)
        crop = rec[tuple(slice(0, n) for n in x.shape)]
        ref_err = np.abs(rec_ref[tuple(slice(0, n) for n in x.shape)] - x).max()
        err = np.abs(crop - x).max()
        if err > max(TOL * np.abs(x).max(), 2 * ref_err):
            failures.append(f"{case}: reconstruction error {err:.1e} (pywt's {ref_err:.1e})")


def test_extension_rules_match_pywt_pad():
    """Our extension of every mode is numpy/pywt's pad, beyond one period too."""
    rng = np.random.default_rng(0)
    for mode in set(MODES) - {"periodization"}:
        for n in (2, 3, 5, 8):
            x = rng.standard_normal(n)
            for width in (1, n - 1, n + 3, 3 * n + 1):
                index, coef = extension(n, width, width + 1, mode)
                ours = (x[index] * coef).sum(axis=1)
                if mode == "smooth" and n == 2 and width > 1:
                    continue  # pywt.pad's smooth needs width + 2 samples
                ref = pywt.pad(x, (width, width + 1), mode)
                assert np.abs(ours - ref).max() <= 1e-12 * np.abs(ref).max(), (mode, n, width)


def test_dwt1d_every_mode_wavelet_length_level():
    rng = np.random.default_rng(1)
    failures, cases = [], 0
    for wavelet in WAVELETS:
        for mode in MODES:
            fwd, inv = None, IDWT1d(wavelet, mode=mode)
            for n in (63, 64):  # odd and even
                x = rng.standard_normal((2, n))
                for level in _levels([n], wavelet):
                    fwd = DWT1d(wavelet, level, mode)
                    ref = pywt.wavedec(x, wavelet, mode=mode, level=level)
                    ours = fwd(torch.from_numpy(x))
                    _compare(f"{wavelet} {mode} n={n} level={level}", ours, ref, failures,
                             inv(ours), pywt.waverec(ref, wavelet, mode=mode), x)
                    cases += 1
    assert not failures, "\n".join(failures)
    assert cases >= 8 * 9 * 2


def test_dwt2d_every_mode_wavelet_size_level():
    rng = np.random.default_rng(2)
    failures = []
    for wavelet in WAVELETS:
        for mode in MODES:
            inv = IDWT2d(wavelet, mode=mode)
            for shape in ((33, 40), (40, 33)):  # odd and even on each axis
                x = rng.standard_normal((2,) + shape)
                for level in _levels(shape, wavelet):
                    ref = pywt.wavedec2(x, wavelet, mode=mode, level=level)
                    ours = DWT2d(wavelet, level, mode)(torch.from_numpy(x))
                    _compare(f"{wavelet} {mode} {shape} level={level}", _ours2d(ours), ref,
                             failures, inv(ours), pywt.waverec2(ref, wavelet, mode=mode), x)
    assert not failures, "\n".join(failures)


def test_dwt3d_every_mode_wavelet_size_level():
    rng = np.random.default_rng(3)
    failures = []
    for wavelet in WAVELETS:
        for mode in MODES:
            inv = IDWTnd(wavelet, mode=mode)
            for shape in ((17, 16, 19), (16, 18, 16)):
                x = rng.standard_normal((2,) + shape)
                for level in _levels(shape, wavelet):
                    ref = pywt.wavedecn(x, wavelet, mode=mode, level=level, axes=(1, 2, 3))
                    ours = DWTnd(wavelet, level, mode)(torch.from_numpy(x))
                    assert all(set(o) == set(r) for o, r in zip(ours[1:], ref[1:]))
                    _compare(f"{wavelet} {mode} {shape} level={level}", ours, ref, failures,
                             inv(ours), pywt.waverecn(ref, wavelet, mode=mode, axes=(1, 2, 3)), x)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("shape,axes", [((3, 12, 5, 7), (1, 3)), ((5, 6, 4), (0, -1, 1)),
                                        ((20, 3), 0), ((4, 9, 10, 11, 2), (-4, -3, -2))])
@pytest.mark.parametrize("mode", ["symmetric", "periodization", "antireflect"])
def test_dwtnd_any_axes(shape, axes, mode):
    x = np.random.default_rng(4).standard_normal(shape)
    failures = []
    for level in (1, 2):
        ref = pywt.wavedecn(x, "db2", mode=mode, level=level, axes=axes)
        ours = DWTnd("db2", level, mode, axes=axes)(torch.from_numpy(x))
        rec = IDWTnd("db2", mode, axes=axes)(ours)
        _compare(f"{axes} level={level}", ours, ref, failures, rec,
                 pywt.waverecn(ref, "db2", mode=mode, axes=axes), x)
    assert not failures, "\n".join(failures)


def test_dwtnd_on_two_axes_is_dwt2d_and_default_level_is_pywts():
    x = torch.randn(3, 37, 30, dtype=torch.float64)
    nd = DWTnd("sym4", None, axes=(-2, -1))(x)
    two = DWT2d("sym4", None)(x)
    ref = pywt.wavedec2(x.numpy(), "sym4")  # level=None: dwt_max_level
    assert len(nd) == len(two) == len(ref) == 3
    for d_nd, d_2 in zip(nd[1:], two[1:]):
        assert torch.equal(torch.stack([d_nd["da"], d_nd["ad"], d_nd["dd"]], -3), d_2)
    assert len(DWT1d("db4", None)(x)) == len(pywt.wavedec(x.numpy(), "db4")) == 3
    rec = IDWTnd("sym4", axes=(-2, -1))(nd, output_size=(37, 30))
    assert torch.allclose(rec, x, atol=1e-12)


# ------------------------------------------------------------------------------------------- SWT
def test_swt1d_and_inverse_match_pywt():
    rng = np.random.default_rng(5)
    failures = []
    for wavelet in WAVELETS:
        for n in (48, 64):
            x = rng.standard_normal((2, n))
            top = pywt.swt_max_level(n)
            for level in range(1, top + 1):
                for start in sorted({0, top - level}):
                    for norm in (False, True):
                        for trim in (False, True):
                            ref = pywt.swt(x, wavelet, level=level, start_level=start,
                                           trim_approx=trim, norm=norm)
                            ours = SWT1d(wavelet, level, start, trim, norm)(torch.from_numpy(x))
                            case = f"{wavelet} n={n} level={level} start={start} {norm} {trim}"
                            if start:
                                _compare(case, ours, ref, failures)
                            else:
                                _compare(case, ours, ref, failures, ISWT1d(wavelet, norm)(ours),
                                         pywt.iswt(ref, wavelet, norm=norm), x)
    assert not failures, "\n".join(failures)


def test_swt2d_and_inverse_match_pywt():
    rng = np.random.default_rng(6)
    failures = []
    for wavelet in WAVELETS:
        x = rng.standard_normal((2, 16, 24))
        for level in (1, 2, 3):
            for norm in (False, True):
                for trim in (False, True):
                    ref = pywt.swt2(x, wavelet, level=level, trim_approx=trim, norm=norm)
                    ours = SWT2d(wavelet, level, 0, trim, norm)(torch.from_numpy(x))
                    if trim:
                        layout = _ours2d(ours)
                    else:
                        layout = [(a, tuple(d.unbind(-3))) for a, d in ours]
                    _compare(f"{wavelet} level={level} {norm} {trim}", layout, ref, failures,
                             ISWT2d(wavelet, norm)(ours), pywt.iswt2(ref, wavelet, norm=norm), x)
    # start_level dilates the filters as pywt's
    ref = pywt.swt2(x, "db2", level=1, start_level=2)
    ours = SWT2d("db2", 1, start_level=2)(torch.from_numpy(x))
    _compare("db2 start_level=2", [(a, tuple(d.unbind(-3))) for a, d in ours], ref, failures)
    assert not failures, "\n".join(failures)


def test_swt_norm_preserves_energy():
    x = torch.randn(4, 64, dtype=torch.float64)
    coeffs = SWT1d("sym8", 4, trim_approx=True, norm=True)(x)
    energy = sum((c ** 2).sum(-1) for c in coeffs)
    assert torch.allclose(energy, (x ** 2).sum(-1), rtol=1e-12)


# ------------------------------------------------------------------------------ dtype, autograd
def test_float32_batched_and_device_generic():
    x = torch.randn(2, 3, 31, 26)
    for mode in ("symmetric", "smooth", "zero"):
        out = DWT2d("db4", 2, mode)(x)
        ref = DWT2d("db4", 2, mode)(x.double())
        assert all(o.dtype == torch.float32 for o in out)
        # relative: smooth extrapolates linearly, its coefficients reach ~1e3 here
        assert max((o.double() - r).abs().max() / r.abs().max() for o, r in zip(out, ref)) <= 1e-5
        rec = IDWT2d("db4", mode)(out, output_size=(31, 26))
        assert rec.shape == x.shape and (rec - x).abs().max() <= 1e-5
    vol = torch.randn(2, 10, 12, 9)
    rec = IDWTnd("coif3", "periodic")(DWTnd("coif3", 1, "periodic")(vol), output_size=(10, 12, 9))
    assert rec.dtype == torch.float32 and (rec - vol).abs().max() <= 1e-5
    s = SWT2d("db2", 2)(torch.randn(3, 8, 12))
    assert all(a.dtype == torch.float32 for pair in s for a in pair)
    # an empty batch gives empty coefficients
    empty = DWTnd("haar", 1)(torch.empty(0, 4, 4, 4))
    assert empty[0].shape == (0, 2, 2, 2) and empty[1]["ddd"].shape == (0, 2, 2, 2)


@pytest.mark.parametrize("mode", ["symmetric", "smooth", "antireflect", "zero", "periodization"])
def test_gradcheck_modes(mode):
    x = torch.randn(2, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: tuple(DWT1d("db2", 2, mode)(t)), (x,))
    c = [t.detach().requires_grad_(True) for t in DWT1d("db2", 2, mode)(x)]
    assert torch.autograd.gradcheck(lambda *t: IDWT1d("db2", mode)(list(t)), tuple(c))
    v = torch.randn(1, 5, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: (DWTnd("haar", 1, mode)(t)[1]["dad"],), (v,))
    img = torch.randn(1, 7, 6, dtype=torch.float64, requires_grad=True)
    cs = [t.detach().requires_grad_(True) for t in DWT2d("db2", 1, mode)(img)]
    assert torch.autograd.gradcheck(lambda *t: IDWT2d("db2", mode)(list(t)), tuple(cs))


def test_gradcheck_swt():
    x = torch.randn(2, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: tuple(SWT1d("db2", 2, trim_approx=True)(t)), (x,))
    img = torch.randn(1, 4, 8, dtype=torch.float64)
    coeffs = [t.detach().requires_grad_(True) for t in SWT2d("haar", 2, trim_approx=True)(img)]
    assert torch.autograd.gradcheck(lambda *t: ISWT2d("haar")(list(t)), tuple(coeffs))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu_all_transforms():
    x = torch.randn(2, 20, 24, 18, dtype=torch.float64)
    for fwd, inv in [(DWTnd("sym8", 2, "smooth"), IDWTnd("sym8", "smooth")),
                     (DWT2d("db4", 2, "reflect"), IDWT2d("db4", "reflect"))]:
        cpu = fwd(x)
        gpu = fwd(x.cuda())
        for a, b in zip(_flat(cpu), _flat([[t.cpu() if isinstance(t, torch.Tensor) else
                                            {k: v.cpu() for k, v in t.items()} for t in gpu]])):
            assert np.abs(a - b).max() <= 1e-12
        assert torch.allclose(inv(gpu).cpu(), inv(cpu), atol=1e-12)
    s = SWT2d("db2", 2, trim_approx=True)(x[0].cuda())
    assert torch.allclose(ISWT2d("db2")(s).cpu(), x[0], atol=1e-12)


# ------------------------------------------------------------------------------------ bad input
def test_bad_input_new_transforms():
    with pytest.raises(ValueError, match="mode must be one of.*'zero'.*'antireflect'"):
        DWTnd("haar", 1, mode="sym")
    with pytest.raises(ValueError, match="reflect.*at least 2 samples"):
        DWT1d("db2", 1, mode="reflect")(torch.randn(3, 1))
    with pytest.raises(ValueError, match="axes must be unique"):
        DWTnd("haar", axes=(-1, 2))(torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match="axes=.*do not fit x"):
        DWTnd("haar")(torch.randn(4, 4))
    with pytest.raises(TypeError, match="axes"):
        DWTnd("haar", axes=(1.0,))
    coeffs = DWTnd("haar", 1)(torch.randn(2, 4, 4, 4))
    with pytest.raises(ValueError, match=r"coeffs\[1\] must be a dict with the keys"):
        IDWTnd("haar")([coeffs[0], {"aad": coeffs[1]["aad"]}])
    with pytest.raises(ValueError, match=r"output_size\[0\]"):
        IDWTnd("haar")(coeffs, output_size=(1, 4, 4))
    with pytest.raises(ValueError, match="level=3 is too large.*divisible by"):
        SWT1d("haar", 3)(torch.randn(12))
    with pytest.raises(ValueError, match="start_level=2 is too large"):
        SWT2d("haar", 1, start_level=2)(torch.randn(6, 8))
    with pytest.raises(TypeError, match="trim_approx"):
        SWT1d("haar", trim_approx="yes")
    with pytest.raises(ValueError, match="coeffs"):
        ISWT1d("haar")([torch.randn(8)])
    with pytest.raises(ValueError, match="shape of cA_n"):
        ISWT1d("haar")([torch.randn(8), torch.randn(6)])
    with pytest.raises(TypeError, match="floating"):
        SWT1d("haar")(torch.arange(8))
    with pytest.raises(ValueError, match="NaN"):
        DWTnd("haar")(torch.full((2, 2, 2), float("nan")))
    # a user's wavelet object (pywt pads its odd-length filters to an even length)
    custom = pywt.Wavelet("custom", filter_bank=([0.5, 0.5, 0.0], [0.5, -0.5, 0.0],
                                                 [0.5, 0.5, 0.0], [-0.5, 0.5, 0.0]))
    x = np.random.default_rng(7).standard_normal((2, 11))
    for mode in ("symmetric", "antisymmetric"):
        ours = DWT1d(custom, 2, mode)(torch.from_numpy(x))
        failures = []
        _compare(mode, ours, pywt.wavedec(x, custom, mode=mode, level=2), failures)
        assert not failures, failures


def test_cache_chunks_give_the_same_numbers(monkeypatch):
    """Large CPU inputs are processed in chunks of rows (kept in cache): same numbers as pywt."""
    from scatter.filters import _dwt_ops

    monkeypatch.setattr(_dwt_ops, "CHUNK_BYTES", 2048)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 33, 40))
    vol = rng.standard_normal((3, 12, 17, 10))
    failures = []
    for mode in ("symmetric", "periodization", "smooth"):
        with torch.no_grad():  # chunks are used without autograd
            ours = DWT2d("sym8", 2, mode)(torch.from_numpy(x))
            ref = pywt.wavedec2(x, "sym8", mode=mode, level=2)
            _compare(f"2d {mode}", _ours2d(ours), ref, failures, IDWT2d("sym8", mode)(ours),
                     pywt.waverec2(ref, "sym8", mode=mode), x)
            ours = DWTnd("db4", 2, mode, axes=(0, 1, 2, 3))(torch.from_numpy(vol))
            ref = pywt.wavedecn(vol, "db4", mode=mode, level=2)
            _compare(f"4d {mode}", ours, ref, failures,
                     IDWTnd("db4", mode, axes=(0, 1, 2, 3))(ours),
                     pywt.waverecn(ref, "db4", mode=mode), vol)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("short", [0, 10**9], ids=["base-blocks", "short-blocks"])
def test_idwt2d_matrix_product_path_matches_generic_and_pywt(monkeypatch, short):
    """IDWT2d's CPU path (blocked matrix products in groups of images, filters/_dwt_gemm.py)
    gives pywt's numbers and the generic kernels' (the autograd/GPU path): several groups with a
    smaller last one, odd sizes, levels past dwt_max_level (periodization's margins wrapping
    several periods), both block sizes, leading dimensions, float32, output_size, an empty
    batch."""
    from scatter.filters import _dwt_gemm

    monkeypatch.setattr(_dwt_gemm, "GROUP_BYTES", 30_000)  # 2 or 3 images per group
    monkeypatch.setattr(_dwt_gemm, "SHORT", short)  # 0: the base blocks for every product
    rng = np.random.default_rng(9)
    x = rng.standard_normal((7, 37, 30))
    # a two-tap wavelet that is not haar's c [[1, 1], [1, -1]] (the general two-tap passes)
    two_tap = pywt.Wavelet("two_tap", filter_bank=([0.6, 0.8], [0.8, -0.6], [0.8, 0.6],
                                                   [-0.6, 0.8]))
    failures = []
    for wavelet in ("haar", two_tap, "db4", "sym8", "bior4.4"):
        for mode in MODES:
            for level in (1, 3):
                ours = DWT2d(wavelet, level, mode)(torch.from_numpy(x))
                ref = pywt.wavedec2(x, wavelet, mode=mode, level=level)
                inv = IDWT2d(wavelet, mode)
                with torch.no_grad():
                    fast = inv(ours)
                assert fast.is_contiguous()
                with monkeypatch.context() as m:
                    m.setattr(_dwt_gemm, "usable", lambda tensors: False)
                    generic = inv(ours)
                case = f"{wavelet} {mode} level={level}"
                _compare(case, _ours2d(ours), ref, failures, fast,
                         pywt.waverec2(ref, wavelet, mode=mode), x)
                err = (fast - generic).abs().max() / generic.abs().max()
                if err > TOL:
                    failures.append(f"{case}: matrix products differ from the generic path by "
                                    f"{err:.1e}")
    assert not failures, "\n".join(failures)
    # leading dimensions, float32, output_size (the odd size back), an empty batch
    x4 = torch.from_numpy(x[:6].reshape(2, 3, 37, 30)).float()
    coeffs = DWT2d("db2", 2, "smooth")(x4)
    y = IDWT2d("db2", "smooth")(coeffs, output_size=(37, 30))
    assert y.shape == (2, 3, 37, 30) and y.dtype == torch.float32 and y.is_contiguous()
    assert torch.allclose(y, x4, atol=1e-5)
    empty = [c[:0] for c in DWT2d("sym8", 2, "periodization")(torch.randn(1, 40, 40))]
    assert IDWT2d("sym8", "periodization")(empty).shape == (0, 40, 40)
    # a detail band that requires grad (the approximation does not): the differentiable path
    coeffs = DWT2d("db2", 2)(torch.randn(2, 16, 16, dtype=torch.float64))
    coeffs[1] = coeffs[1].clone().requires_grad_()
    IDWT2d("db2")(coeffs).square().sum().backward()
    assert coeffs[1].grad is not None and coeffs[1].grad.abs().sum() > 0
