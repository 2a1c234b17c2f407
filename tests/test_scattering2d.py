"""Scattering2D: Kymatio's numbers, gradients, invariance properties, API and bad input."""
import numpy as np
import pytest
import torch

from scatter.filters import FilterBank, morlet_2d
from scatter import Scattering2D, padded_shape_2d

from _oracles import kymatio, needs_kymatio

if kymatio is not None:   # the oracle, if installed
    from kymatio import Scattering2D as KymatioScattering2D
    from kymatio.scattering2d.filter_bank import periodize_filter_fft


def rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


CONFIGS = [  # (M, N, J, L, max_order): square, non-square, odd sizes, J = 1..5, L in {4, 6, 8}
    (32, 32, 1, 8, 2), (32, 32, 2, 8, 2), (40, 56, 3, 6, 2), (33, 47, 2, 4, 1), (32, 32, 5, 8, 2),
    (64, 48, 4, 4, 2), (31, 31, 3, 8, 1), (16, 40, 4, 6, 2), (45, 27, 2, 6, 2), (64, 64, 3, 8, 1),
]


@needs_kymatio
@pytest.mark.parametrize("M,N,J,L,max_order", CONFIGS)
def test_equals_kymatio_float32(M, N, J, L, max_order):
    x = np.random.default_rng(M * N + J).standard_normal((2, M, N)).astype(np.float32)
    ref = KymatioScattering2D(J, (M, N), L=L, max_order=max_order, frontend="numpy").scattering(x)
    out = Scattering2D(J, (M, N), L=L, max_order=max_order)(x)
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert rel_err(out, ref) <= 1e-5


def _kymatio_float64(J, shape, L, max_order):
    """Kymatio's numpy frontend running on float64 filters.

    Kymatio designs its filters in complex64; the float64 oracle replaces them by our float64
    level-0 design (itself checked against Kymatio's to 1e-6 in test_morlet2d) periodised to every
    resolution by Kymatio's own ``periodize_filter_fft``. This checks the cascade (padding, products,
    subsampling, modulus, unpadding, channel order) and our filter cropping to 1e-10.
    """
    S = KymatioScattering2D(J, shape, L=L, max_order=max_order, frontend="numpy")
    bank = morlet_2d((S._M_padded, S._N_padded), J, L)
    for k, psi in enumerate(S.psi):
        psi["levels"] = [periodize_filter_fft(bank.psi[k], res) for res in range(len(psi["levels"]))]
    S.phi["levels"] = [periodize_filter_fft(bank.phi, res) for res in range(len(S.phi["levels"]))]
    return S


@needs_kymatio
@pytest.mark.parametrize("M,N,J,L,max_order", [(32, 32, 2, 8, 2), (40, 56, 3, 6, 2), (33, 47, 2, 4, 1),
                                               (16, 40, 4, 6, 2), (32, 32, 1, 8, 2)])
def test_equals_kymatio_float64(M, N, J, L, max_order):
    x = np.random.default_rng(1).standard_normal((2, M, N))
    ref = _kymatio_float64(J, (M, N), L, max_order).scattering(x)
    out = Scattering2D(J, (M, N), L=L, max_order=max_order).double()(x)
    assert out.dtype == np.float64
    assert rel_err(out, ref) <= 1e-10


@needs_kymatio
def test_list_output_and_meta_match_kymatio():
    x = np.random.default_rng(2).standard_normal((1, 32, 32)).astype(np.float32)
    ref = KymatioScattering2D(3, (32, 32), L=4, frontend="numpy", out_type="list").scattering(x)
    S = Scattering2D(3, (32, 32), L=4, out_type="list")
    out = S(x)
    assert len(out) == len(ref) == 1 + 3 * 4 + 4 * 4 * 3
    for a, b in zip(out, ref):
        assert a["j"] == b["j"] and a["theta"] == b["theta"]
        assert rel_err(a["coef"], b["coef"]) <= 1e-5
    meta = S.meta()
    assert list(np.bincount(meta["order"])) == [1, 12, 48]
    assert meta["j"].shape == (61, 2) and np.isnan(meta["j"][0]).all()
    # second order: j2 > j1 everywhere; order follows (j1, theta1, j2, theta2)
    second = meta["j"][meta["order"] == 2]
    assert np.all(second[:, 1] > second[:, 0])
    assert [tuple(k) for k in meta["key"][1:3]] == [((0, 0),), ((0, 1),)]
    assert len(meta["key"]) == 61


def test_leading_dims_tensor_and_numpy_io():
    S = Scattering2D(2, (32, 32), L=4)
    x = torch.randn(2, 3, 32, 32)
    out = S(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, 1 + 8 + 16, 8, 8)
    single = S(x[1, 2])
    torch.testing.assert_close(single, out[1, 2], rtol=1e-5, atol=1e-6)
    assert isinstance(S(x.numpy()), np.ndarray)
    assert S.output_shape == (8, 8)


def test_module_conversions_and_state_dict():
    S = Scattering2D(2, (16, 16), L=4)
    x = torch.randn(1, 16, 16, dtype=torch.float64)
    # the computation follows the input's dtype (filters kept in both precisions)
    out64 = S(x)
    assert out64.dtype == torch.float64
    out32 = S(x.float())
    assert out32.dtype == torch.float32
    assert (out32.double() - out64).abs().max() <= 1e-5 * out64.abs().max()
    S64 = S.double()
    assert S64(x).dtype == torch.float64 and torch.equal(S64(x), out64)
    assert S64(x.float()).dtype == torch.float32
    state = S.state_dict()  # filters are derived from the parameters: nothing to save
    S.load_state_dict(state)


def test_gradcheck():
    S = Scattering2D(1, (6, 6), L=2).double()
    x = torch.randn(1, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(S, (x,), eps=1e-6, atol=1e-6)
    # order 2 through two resolutions: the fast (random projection) variant keeps the suite quick
    S2 = Scattering2D(2, (8, 8), L=2).double()
    x = torch.randn(1, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(S2, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_circular_shift_by_multiple_of_2J_commutes():
    J, k = 2, 1
    S = Scattering2D(J, (32, 32), L=4, pre_pad=True).double()
    Mp, Np = S.padded_shape
    x = torch.randn(Mp, Np, dtype=torch.float64)
    out = S(x)
    shifted = S(torch.roll(x, shifts=(k * 2 ** J, 2 * k * 2 ** J), dims=(0, 1)))
    # the network's circular output is cropped by one pixel per side (Kymatio's unpad)
    torch.testing.assert_close(shifted[:, k:, 2 * k:], out[:, :-k, :-2 * k], rtol=1e-10, atol=1e-12)


def test_translation_invariance_grows_with_J():
    from skimage.data import camera

    img = camera().astype(np.float64) / 255
    a, s = img[100:164, 200:264], img[103:167, 202:266]  # the same scene moved by (3, 2) pixels
    errors = []
    for J in (1, 2, 3, 4):
        S = Scattering2D(J, (64, 64), L=8, max_order=1).double()
        sa, ss = S(a), S(s)
        errors.append(float(np.linalg.norm(sa - ss) / np.linalg.norm(sa)))
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.5 * errors[0]


def test_energy_bounded_by_input_energy():
    J = 3
    S = Scattering2D(J, (64, 64), L=8, pre_pad=True).double()
    upper = S.bank.frame_bounds()[1]  # (pi / 3.1415)^2 ~ 1.00006 up to wavelet overlaps
    rng = np.random.default_rng(3)
    from skimage.data import camera

    images = [rng.standard_normal(S.padded_shape),
              camera()[:S.padded_shape[0], :S.padded_shape[1]].astype(np.float64) / 255]
    for x in images:
        # each output sample stands for 2**J x 2**J input pixels; the network crops one sample
        # per side, so the kept energy is at most the upper frame bound to the order-2 power
        energy = 4 ** J * np.sum(S(x) ** 2)
        ratio = energy / np.sum(x ** 2)
        assert 0.3 < ratio <= upper ** 2, ratio


def test_custom_banks_real_complex_and_callable():
    grid = padded_shape_2d((32, 32), 2)
    bank = morlet_2d(grid, 2, L=4)
    x = torch.randn(2, 32, 32, dtype=torch.float64)
    ref = Scattering2D(2, (32, 32), L=4).double()(x)
    # the same filters as complex Fourier arrays go through the complex path
    complex_bank = FilterBank(bank.psi + 0j, bank.phi + 0j, bank.meta)
    out = Scattering2D(2, (32, 32), bank=complex_bank).double()(x)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    # a callable receives the padded grid; other Morlet parameters give other numbers
    S = Scattering2D(2, (32, 32), bank=lambda shape: morlet_2d(shape, 2, L=6, sigma0=1.0)).double()
    assert S.bank.shape == grid and S(x).shape == (2, 1 + 12 + 36, 8, 8)
    # groups may differ in size across scales (as curvelet angles do)
    keep = (bank.meta["j"] == 0) | (bank.meta["theta"] % 2 == 0)
    S = Scattering2D(2, (32, 32), bank=bank.select(keep))
    assert len(S.meta()["order"]) == 1 + 6 + 4 * 2


@pytest.mark.parametrize("make,error,match", [
    (lambda: Scattering2D(0, (32, 32)), ValueError, "J"),
    (lambda: Scattering2D(6, (32, 32)), ValueError, "too large"),
    (lambda: Scattering2D(2, (32, 32), max_order=3), ValueError, "max_order"),
    (lambda: Scattering2D(2, (32, 32), out_type="dict"), ValueError, "out_type"),
    (lambda: Scattering2D(2, (32,)), ValueError, "shape"),
    (lambda: Scattering2D(2, (32, 32), L=0), ValueError, "L"),
    (lambda: Scattering2D(2, (32, 32), bank=morlet_2d((32, 32), 2)), ValueError, "padded grid"),
    (lambda: Scattering2D(2, (32, 32), bank="morlet"), TypeError, "bank"),
    (lambda: Scattering2D(2, (32, 32), bank=lambda s: morlet_2d(s, 3)), ValueError, "meta\\['j'\\]"),
])
def test_bad_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("x,error,match", [
    (torch.randn(32), ValueError, "at least 2"),
    (torch.randn(2, 32, 31), ValueError, "spatial shape"),
    (torch.randn(2, 32, 32, dtype=torch.complex64), TypeError, "real floating"),
    (torch.ones(2, 32, 32, dtype=torch.int64), TypeError, "real floating"),
    (np.ones((2, 32, 32), dtype=np.uint8), TypeError, "floating"),
    (torch.tensor(np.full((1, 32, 32), np.nan), dtype=torch.float32), ValueError, "NaN"),
    (torch.tensor(np.full((1, 32, 32), np.inf), dtype=torch.float32), ValueError, "NaN or inf"),
    ([[1.0] * 32] * 32, TypeError, "torch.Tensor or a numpy"),
])
def test_bad_input(x, error, match):
    S = Scattering2D(2, (32, 32), L=4)
    with pytest.raises(error, match=match):
        S(x)


def test_pre_pad_expects_padded_shape():
    S = Scattering2D(2, (32, 32), L=4, pre_pad=True)
    with pytest.raises(ValueError, match="pre_pad"):
        S(torch.randn(32, 32))
    assert S(torch.randn(*S.padded_shape)).shape == (25, 8, 8)


def test_batch_size_chunks_give_the_same_coefficients():
    x = torch.randn(7, 2, 32, 32, dtype=torch.float64)
    whole = Scattering2D(2, (32, 32), L=4, batch_size=1000).double()(x)
    for batch_size in (1, 3, None):
        chunked = Scattering2D(2, (32, 32), L=4, batch_size=batch_size).double()(x)
        torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="batch_size"):
        Scattering2D(2, (32, 32), batch_size=0)


def test_traces_under_torch_compile():
    # dynamo + AOT autograd tracing (the inductor backend also works but compiles for minutes)
    S = Scattering2D(2, (16, 16), L=2, check_input=False)
    x = torch.randn(3, 16, 16)
    compiled = torch.compile(S, backend="aot_eager", fullgraph=False)
    torch.testing.assert_close(compiled(x), S(x), rtol=1e-5, atol=1e-6)


def test_inference_buffers_are_per_thread_and_not_pickled():
    """Work buffers kept between no-autograd calls: threads never share them, copies drop them,
    and no output aliases them."""
    import copy
    import pickle
    import threading

    S = Scattering2D(2, (20, 24), L=4)
    x, y = torch.randn(3, 20, 24), torch.randn(3, 20, 24)
    with torch.no_grad():
        ref = S(x)
        first = S(x)
        S(y)                       # reuses the buffers: the earlier output must not change
        assert torch.equal(first, ref)
    results = []

    def run():
        with torch.no_grad():
            results.extend(torch.equal(S(x), ref) for _ in range(10))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 30 and all(results)
    assert torch.equal(pickle.loads(pickle.dumps(S))(x), ref)
    assert torch.equal(copy.deepcopy(S)(x), ref)
    S.release_workspace()
    assert torch.equal(S(x), ref)
    x.requires_grad_(True)         # autograd: fresh tensors, same numbers
    assert torch.allclose(S(x), ref, rtol=0, atol=1e-6 * float(ref.abs().max()))


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_separable_lowpass_equals_fourier_lowpass(dtype, tol):
    """Morlet's Gaussian low-pass runs as two matrix products; the Fourier path gives the same."""
    S = Scattering2D(3, (30, 34), L=4)
    fast = S._make_engine(dtype)
    assert fast._phi_separable
    slow = S._make_engine(dtype)
    slow._phi_separable = False
    x = torch.randn(2, 30, 34, dtype=dtype)
    a, b = fast.run(x, True), slow.run(x, True)
    assert float((a - b).abs().max() / b.abs().max()) <= tol


def test_separable_factors_and_lowpass_matrix():
    from scatter._design import lowpass_matrix, separable_factors

    bank = morlet_2d((32, 40), 2, 4)
    a, b = separable_factors(bank.phi)
    np.testing.assert_allclose(np.outer(a, b), bank.phi, atol=1e-14 * np.abs(bank.phi).max())
    assert separable_factors(bank.psi[1]) is None          # an oriented wavelet is not separable
    u = np.random.default_rng(0).standard_normal(40)
    P = lowpass_matrix(b, 4, 1, 8)                          # (40, 8)
    full = np.fft.ifft(np.fft.fft(u) * b).real[::4][1:9]    # filter, subsample, keep 1..8
    np.testing.assert_allclose(u @ P, full, atol=1e-12)


def test_broadcast_shape_matches_torch():
    from scatter.engine.fourier import _broadcast_shape

    for a, b in [((4, 1, 8, 8, 2), (3, 8, 8, 2)), ((1,), (5, 1)), ((2, 3), (2, 3)), ((), (4,))]:
        assert _broadcast_shape(a, b) == tuple(torch.broadcast_shapes(a, b))
    with pytest.raises(ValueError, match="do not broadcast"):
        _broadcast_shape((2, 3), (4, 3))


def _fold_reference(u, filt, factor):
    """Full-size product, then the mean of the aliases' sum as Kymatio's periodisation does."""
    prod = u * filt
    m, n = prod.shape[-2:]
    return prod.reshape(*prod.shape[:-2], factor, m // factor, factor, n // factor).sum((-4, -2))


@pytest.mark.parametrize("real_filters", [True, False])
def test_filter_subsample_visits_only_significant_filter_blocks(real_filters):
    from scatter.engine.fourier import Workspace, filter_subsample, restrict_blocks, significant_blocks

    rng = np.random.default_rng(1)
    K, M, N, factor = 5, 16, 24, 4
    design = rng.standard_normal((K, M, N)) + (0 if real_filters else 1j * rng.standard_normal((K, M, N)))
    # filters 1-3 vanish in block (1, 2); filter 0 in block (0, 0); filters 0 and 4 in (3, 5 // 2)
    design[1:4, 4:8, 12:18] = 0
    design[0, 0:4, 0:6] = 0
    design[[0, 4], 12:16, 12:18] = 0
    blocks = significant_blocks(design, factor)
    assert (1, 2, ((0, 1), (4, 5))) in blocks and (0, 0, ((1, 5),)) in blocks and (3, 2, ((1, 4),)) in blocks
    assert blocks[0][2] == ((0, K),)                       # a block every filter needs comes first
    u = torch.randn(3, 1, M, N, dtype=torch.complex128)
    filt = torch.from_numpy(np.stack([design, design], -1) if real_filters else design)
    expected = _fold_reference(u, torch.from_numpy(design), factor)
    for workspace in (None, Workspace()):
        out = filter_subsample(u, filt, factor, blocks, workspace)
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    # a part of the stack: block (1, 2) holds none of filters 1-3 and is skipped
    part = restrict_blocks(blocks, 1, 4)
    assert (1, 2) not in [(a, b) for a, b, _ in part]
    out = filter_subsample(u, filt[1:4], factor, part, Workspace())
    torch.testing.assert_close(out, expected[:, 1:4], rtol=1e-12, atol=1e-12)
    # no block that every filter needs: the output starts from zeros
    only_some = [blk for blk in blocks if blk[2] != ((0, K),)]
    keep = np.zeros((factor, factor), bool)
    for a, b, _ in only_some:
        keep[a, b] = True
    mask = np.kron(keep, np.ones((M // factor, N // factor)))
    out = filter_subsample(u, filt, factor, only_some, Workspace())
    torch.testing.assert_close(out, _fold_reference(u, torch.from_numpy(design * mask), factor),
                               rtol=1e-12, atol=1e-12)


def test_kept_filter_block_views_follow_conversions_and_pickling():
    import pickle

    S = Scattering2D(3, (32, 32), L=4)
    x = torch.randn(2, 32, 32, dtype=torch.float64)
    S(x.float())                                   # block views of the float32 filters kept
    assert S._engines["float32"]._products
    fresh = Scattering2D(3, (32, 32), L=4).double()
    torch.testing.assert_close(S.double()(x), fresh(x), rtol=1e-13, atol=1e-13)
    assert all(f.dtype == torch.float64 for products in S._engines["float64"]._products.values()
               for *_, f, _ in products)
    clone = pickle.loads(pickle.dumps(S))
    assert clone._engines == {}
    torch.testing.assert_close(clone(x), fresh(x), rtol=1e-13, atol=1e-13)


def test_filter_subsample_with_partial_runs_has_the_right_gradient():
    from scatter.engine.fourier import filter_subsample, significant_blocks

    rng = np.random.default_rng(2)
    design = rng.standard_normal((3, 8, 8))
    design[1:, 0:2, 2:4] = 0                      # block (0, 1) needs filter 0 only
    blocks = significant_blocks(design, 4)
    assert (0, 1, ((0, 1),)) in blocks
    filt = torch.from_numpy(np.stack([design, design], -1))
    u = torch.randn(2, 1, 8, 8, dtype=torch.complex128, requires_grad=True)
    torch.autograd.gradcheck(lambda z: torch.view_as_real(filter_subsample(z, filt, 4, blocks)), (u,))
