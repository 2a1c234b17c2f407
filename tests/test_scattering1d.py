"""Scattering1D: Kymatio's numbers and meta, gradients, a shift property, API and bad input."""
import dataclasses
import warnings

import numpy as np
import pytest
import torch

from scatter.filters import FilterBank, kymatio_padding_1d, morlet_1d
from scatter import Scattering1D

from _oracles import kymatio, needs_kymatio

if kymatio is not None:   # the oracle, if installed
    from kymatio import Scattering1D as KymatioScattering1D


def rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def kymatio_1d(J, N, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Kymatio's DeprecationWarning on `average`
        return KymatioScattering1D(J, N, frontend="numpy", **kwargs)


# (N, J, Q, T, max_order, oversampling): Q in {1, 8, 12} and tuples, T None / given / non-integer,
# J from 1 to 10, odd lengths, both orders, oversampling 0 and 1.
CONFIGS = [
    (256, 1, 1, None, 2, 0), (512, 2, 8, None, 2, 0), (1000, 3, 12, None, 2, 1),
    (777, 4, (8, 2), None, 2, 0), (2048, 5, 1, 64, 2, 0), (1501, 6, (12,), None, 1, 0),
    (1024, 7, 8, 100.5, 2, 1), (1001, 8, (4, 3), None, 2, 0), (1024, 9, 1, None, 2, 0),
    (1100, 10, 8, None, 2, 0), (1024, 10, 12, None, 1, 1), (1000, 6, (12, 12), 1000, 2, 0),
]


@needs_kymatio
@pytest.mark.parametrize("N,J,Q,T,max_order,oversampling", CONFIGS)
def test_equals_kymatio_float32_and_float64(N, J, Q, T, max_order, oversampling):
    x = np.random.default_rng(N + J).standard_normal((2, N))
    ref = kymatio_1d(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling).scattering(x)
    S = Scattering1D(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling)
    out32 = S(x.astype(np.float32))
    assert out32.dtype == np.float32 and out32.shape == ref.shape
    assert rel_err(out32, ref) <= 1e-5
    # Kymatio's 1D filters are float64: a float64 network matches it to rounding
    out64 = S.double()(x)
    assert out64.dtype == np.float64
    assert rel_err(out64, ref) <= 1e-10
    assert out64.shape[-1] == S.output_length and out64.shape[-2] == S.output_size()


@needs_kymatio
@pytest.mark.parametrize("merge_below", [0, 1 << 30])
def test_second_order_batching_is_exact(monkeypatch, merge_below):
    """Short second-order maps are computed together at a common length; either way (none or
    all merged) the numbers are Kymatio's."""
    import scatter.engine.cpu1d as module

    monkeypatch.setattr(module, "_MERGE_BELOW", merge_below)
    N, J, Q = 2000, 7, (4, 2)
    x = np.random.default_rng(5).standard_normal((2, N))
    for T, extra in ((None, {}), (0, {"out_type": "list", "oversampling": 1})):
        ref = kymatio_1d(J, N, Q=Q, T=T, **extra).scattering(x)
        out = Scattering1D(J, N, Q=Q, T=T, **extra).double()(x)
        if T == 0:
            assert all(rel_err(a["coef"], b["coef"]) <= 1e-10 for a, b in zip(out, ref))
        else:
            assert rel_err(out, ref) <= 1e-10


@needs_kymatio
@pytest.mark.parametrize("N,J,Q,max_order,oversampling",
                         [(1000, 4, 8, 2, 0), (777, 5, (2, 2), 2, 1), (500, 3, 12, 1, 0)])
def test_unaveraged_list_equals_kymatio(N, J, Q, max_order, oversampling):
    x = np.random.default_rng(0).standard_normal((2, N))
    ref = kymatio_1d(J, N, Q=Q, T=0, max_order=max_order, oversampling=oversampling,
                     out_type="list").scattering(x)
    S = Scattering1D(J, N, Q=Q, T=0, max_order=max_order, oversampling=oversampling,
                     out_type="list").double()
    out = S(x)
    assert len(out) == len(ref)
    meta = S.meta()
    for c, (a, b) in enumerate(zip(out, ref)):
        assert a["n"] == b["n"] == meta["key"][c] and a["j"] == b["j"]
        assert a["order"] == len(a["n"]) == meta["order"][c]
        assert a["coef"].shape == b["coef"].shape  # lengths differ per path
        assert rel_err(a["coef"], b["coef"]) <= 1e-10
    # Kymatio 0.3's deprecated flag gives the same transform
    same = Scattering1D(J, N, Q=Q, average=False, max_order=max_order, oversampling=oversampling,
                        out_type="list").double()(x)
    assert all(np.array_equal(a["coef"], b["coef"]) for a, b in zip(same, out))


def test_averaged_list_output():
    x = torch.randn(3, 1024)
    S = Scattering1D(5, 1024, Q=4, out_type="list")
    array = Scattering1D(5, 1024, Q=4)(x)
    out = S(x)
    assert len(out) == array.shape[-2]
    meta = S.meta()
    for c, path in enumerate(out):
        torch.testing.assert_close(path["coef"], array[:, c])
        np.testing.assert_array_equal(path["xi"], meta["xi"][c, :path["order"]])
    assert out[0]["xi"] == () and out[0]["j"] == () and out[0]["order"] == 0


@needs_kymatio
@pytest.mark.parametrize("J,Q,max_order", [(6, 8, 2), (4, (4, 2), 2), (5, 12, 1)])
def test_meta_and_output_size_match_kymatio(J, Q, max_order):
    K = kymatio_1d(J, 2048, Q=Q, max_order=max_order)
    S = Scattering1D(J, 2048, Q=Q, max_order=max_order)
    ref, meta = K.meta(), S.meta()
    np.testing.assert_array_equal(meta["order"], ref["order"])
    assert meta["key"] == ref["key"]
    for key in ("j", "n", "xi", "sigma"):
        assert meta[key].shape == ref[key].shape == (len(ref["order"]), max_order)   # as Kymatio's
        np.testing.assert_allclose(meta[key], ref[key], rtol=1e-14)
    assert S.output_size(detail=True) == K.output_size(detail=True)
    assert S.output_size() == K.output_size()


def test_leading_dims_tensor_and_numpy_io():
    S = Scattering1D(4, 500, Q=4)
    x = torch.randn(2, 3, 500)
    out = S(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, S.output_size(), S.output_length)
    torch.testing.assert_close(S(x[1, 2]), out[1, 2], rtol=1e-5, atol=1e-6)
    assert isinstance(S(x.numpy()), np.ndarray)


@needs_kymatio
def test_module_conversions_and_state_dict():
    S = Scattering1D(3, 128, Q=2)
    x = torch.randn(2, 128, dtype=torch.float64)
    ref = kymatio_1d(3, 128, Q=2).scattering(x.numpy())
    # the computation follows the input's dtype: float64 filters from the designs, not upcast
    assert S(x).dtype == torch.float64 and rel_err(S(x).numpy(), ref) <= 1e-10
    assert S(x.float()).dtype == torch.float32
    S64 = S.double()
    out = S64(x)
    assert out.dtype == torch.float64
    assert rel_err(out.numpy(), ref) <= 1e-10  # converted from the float64 designs, not upcast
    assert rel_err(S64.float()(x.float()).numpy(), ref) <= 1e-5
    S.load_state_dict(S.state_dict())


@pytest.mark.filterwarnings("ignore:signal length")  # short signals: border effects are expected
def test_gradcheck():
    S = Scattering1D(2, 24, Q=1, max_order=1).double()
    x = torch.randn(1, 24, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(S, (x,), eps=1e-6, atol=1e-6)
    # order 2 at several resolutions, window plans of every mode, oversampling
    S = Scattering1D(4, 48, Q=(2, 2), oversampling=1).double()
    x = torch.randn(1, 48, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(S, (x,), eps=1e-6, atol=1e-6, fast_mode=True)
    S = Scattering1D(3, 40, Q=2, T=0, out_type="list").double()
    paths = lambda v: torch.cat([p["coef"] for p in S(v)], -1)  # noqa: E731
    assert torch.autograd.gradcheck(paths, (x[:, :40],), eps=1e-6, atol=1e-6, fast_mode=True)


def test_gradients_equal_with_and_without_autograd_paths():
    """The no-autograd fast paths (in-place modulus, reused buffers) give the same numbers."""
    S = Scattering1D(5, 300, Q=8).double()
    x = torch.randn(2, 300, dtype=torch.float64)
    with torch.no_grad():
        fast = S(x)
    slow = S(x.clone().requires_grad_(True))
    torch.testing.assert_close(slow.detach(), fast, rtol=1e-12, atol=1e-14)


class _Circular(Scattering1D):
    """The cascade on an already periodic signal of length N_padded: no padding, no unpadding."""

    def _build(self, params):
        plan = super()._build(params)["_plan"]
        plan = dataclasses.replace(plan, N=plan.N_padded, pad_left=0)
        return {"_plan": plan, "_pad": torch.arange(plan.N_padded)}

    def _grid_of_input(self):
        return (self.N_padded,)


@pytest.mark.parametrize("Q,T,oversampling", [(8, None, 0), ((2, 2), 32, 1)])
def test_circular_shift_by_multiple_of_subsampling_commutes(Q, T, oversampling):
    S = _Circular(5, 400, Q=Q, T=T, oversampling=oversampling).double()
    step = 2 ** max(S.log2_T - oversampling, 0)
    x = torch.randn(2, S.N_padded, dtype=torch.float64)
    out = S(x)
    assert out.shape[-1] == S.N_padded // step
    for k in (1, 3):
        shifted = S(torch.roll(x, k * step, dims=-1))
        torch.testing.assert_close(shifted, torch.roll(out, k, dims=-1), rtol=1e-10, atol=1e-12)
    # the plain cascade (autograd) is circular too
    with torch.enable_grad():
        plain = S(x.clone().requires_grad_())
    torch.testing.assert_close(plain.detach(), out, rtol=1e-10, atol=1e-12)


def test_custom_banks_complex_shared_and_callable():
    N, J = 256, 4
    n_pad = kymatio_padding_1d(N, J, 4)
    bank = morlet_1d(n_pad, J, 4)
    x = torch.randn(2, N, dtype=torch.float64)
    ref = Scattering1D(J, N, Q=4).double()(x)
    # the same filters as complex Fourier arrays go through the complex products
    complex_bank = FilterBank(bank.psi + 0j, bank.phi + 0j, bank.meta, phi_meta=bank.phi_meta)
    out = Scattering1D(J, N, Q=4, bank=complex_bank).double()(x)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    # a callable receives the padded length
    S = Scattering1D(J, N, bank=lambda n: morlet_1d(n, J, 4, sigma0=0.12))
    assert S.bank.shape == (n_pad,) and S.bank.params["sigma0"] == 0.12
    # filters without an order serve both orders (meta['n'] indexes them in each order)
    first = bank.select(bank.meta["order"] == 1)
    shared = FilterBank(first.psi, first.phi, {"j": first.meta["j"]}, phi_meta=first.phi_meta)
    S = Scattering1D(J, N, bank=shared)
    js = first.meta["j"]
    n2 = sum(int(np.sum(js > j)) for j in js)
    assert S.output_size(detail=True) == [1, len(first), n2]
    assert np.isnan(S.meta()["xi"][1:]).all()  # the bank gives no xi


def test_fft_floor_shapes():
    S = Scattering1D(6, 4096, Q=8)
    ops = S.fft_floor_shapes(16)
    assert ops[0] == ((16, S.N_padded), "rfft")
    assert ops[-1] == ((16 * S.output_size(), S.N_padded // 2 ** 6), "irfft")
    assert all(kind in ("rfft", "irfft") for _, kind in ops)
    n_first = S.output_size(detail=True)[1]
    n_second = S.output_size(detail=True)[2]
    # per path one inverse and one forward FFT (batched by scale)
    for kind in ("irfft", "rfft"):
        assert sum(shape[0] for shape, k in ops[1:-1] if k == kind) == 16 * (n_first + n_second)


@pytest.mark.parametrize("make,error,match", [
    (lambda: Scattering1D(-1, 256), ValueError, "J"),
    (lambda: Scattering1D(2, 256, max_order=3), ValueError, "max_order"),
    (lambda: Scattering1D(2, 256, out_type="tuple"), ValueError, "out_type"),
    (lambda: Scattering1D(2, 256, T=0), ValueError, "out_type='array'"),
    (lambda: Scattering1D(2, 256, average=False), ValueError, "out_type='array'"),
    (lambda: Scattering1D(2, 256, T=16, average=False, out_type="list"), ValueError, "average"),
    (lambda: Scattering1D(2, 256, average="no"), TypeError, "average"),
    (lambda: Scattering1D(2, (16, 16)), ValueError, "shape"),
    (lambda: Scattering1D(2, 256, Q=0), ValueError, "Q"),
    (lambda: Scattering1D(2, 256, T=300), ValueError, "T"),
    (lambda: Scattering1D(2, 256, T=0.5), ValueError, "T"),
    (lambda: Scattering1D(2, 256, oversampling=-1), ValueError, "oversampling"),
    (lambda: Scattering1D(2, 256, bank=morlet_1d(256, 2)), ValueError, "padded length"),
    (lambda: Scattering1D(2, 256, bank="morlet"), TypeError, "bank"),
    (lambda: Scattering1D(2, 256, bank=lambda n: morlet_1d(n, 2, T=2)), ValueError, "phi_meta"),
    (lambda: Scattering1D(2, 256, bank=lambda n: FilterBank(np.ones((2, n)), None, {"j": [0, 1]})),
     ValueError, "low-pass"),
    (lambda: Scattering1D(2, 256, bank=lambda n: FilterBank(np.ones((2, n)), np.ones(n),
                                                            {"j": [0, -1]})),
     ValueError, "meta\\['j'\\]"),
    (lambda: Scattering1D(2, 256, bank=lambda n: FilterBank(np.ones((2, n)), np.ones(n), {})),
     ValueError, "meta must give"),
])
def test_bad_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("x,error,match", [
    (torch.tensor(1.0), ValueError, "at least 1"),
    (torch.randn(2, 255), ValueError, "length 255"),
    (torch.randn(2, 256, dtype=torch.complex64), TypeError, "real floating"),
    (torch.ones(2, 256, dtype=torch.int64), TypeError, "real floating"),
    (np.ones((2, 256), dtype=np.int32), TypeError, "floating"),
    (torch.tensor(np.full((1, 256), np.nan), dtype=torch.float32), ValueError, "NaN"),
    (torch.tensor(np.full((1, 256), -np.inf), dtype=torch.float32), ValueError, "NaN or inf"),
    ([1.0] * 256, TypeError, "torch.Tensor or a numpy"),
])
def test_bad_input(x, error, match):
    S = Scattering1D(3, 256, Q=2)
    with pytest.raises(error, match=match):
        S(x)


def test_check_input_false_skips_the_finite_check():
    S = Scattering1D(3, 256, Q=2, check_input=False)
    assert torch.isnan(S(torch.full((256,), float("nan")))).all()


def test_inference_buffers_are_per_thread_and_not_pickled():
    """Work buffers kept between no-autograd calls: threads never share them, copies drop them."""
    import copy
    import pickle
    import threading

    S = Scattering1D(4, 256, Q=2)
    x = torch.randn(3, 256)
    with torch.no_grad():
        ref = S(x)
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


@pytest.mark.parametrize("T, out_type", [(None, "array"), (0, "list")])
def test_batch_size_chunks_give_the_same_coefficients(T, out_type):
    """Chunked passes (explicit or automatic) equal one pass over the whole batch."""
    x = torch.randn(7, 512)
    whole = Scattering1D(5, 512, Q=2, T=T, out_type=out_type, batch_size=7)(x)
    for chunked in (Scattering1D(5, 512, Q=2, T=T, out_type=out_type, batch_size=3),
                    _with_target(Scattering1D(5, 512, Q=2, T=T, out_type=out_type), 2 ** 12)):
        got = chunked(x)
        if out_type == "array":
            assert torch.allclose(got, whole, rtol=0, atol=1e-6 * float(whole.abs().max()))
        else:
            assert len(got) == len(whole)
            for a, b in zip(got, whole):
                assert torch.allclose(a["coef"], b["coef"], rtol=0, atol=1e-6 * float(b["coef"].abs().max()))
    with pytest.raises(ValueError, match="batch_size"):
        Scattering1D(5, 512, batch_size=0)


def _with_target(S, target: int):
    """``S`` with a small automatic-chunking target (several passes for a few signals)."""
    engine = S._engine(torch.float64)
    engine._CPU_TARGET = target
    assert engine._auto_batch_size(7) < 7
    return S


def test_traces_under_torch_compile():
    # dynamo + AOT autograd tracing, with and without autograd (the no-grad CPU path must not
    # hand traced tensors to SciPy or to the worker threads)
    S = Scattering1D(4, 256, Q=2, check_input=False)
    x = torch.randn(3, 256)
    compiled = torch.compile(S, backend="aot_eager", fullgraph=False)
    torch.testing.assert_close(compiled(x), S(x), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), S(x), rtol=1e-5, atol=1e-6)
