"""The policies every scattering network shares (scatter._base): dtypes, NaN, empty batches,
module conversions, torch.compile, parameters assigned after construction, banks whose low-pass
does not fit J, and the CPU engine against the plain cascade it stands in for."""
from __future__ import annotations

import contextlib
import io
import pickle
import warnings

import numpy as np
import pytest
import torch

from scatter import (RotoTranslationScattering2D, Scattering1D, Scattering2D, ScatteringShapeError,
                     padded_shape_2d)
from scatter.filters import FilterBank, curvelet_2d, kymatio_padding_1d, morlet_1d, morlet_2d


def _networks():
    return [Scattering2D(2, (16, 16), L=4), Scattering1D(3, 128, Q=2), RotoTranslationScattering2D(2, (16, 16), L=4)]


def _input(S, batch=(2,), dtype=torch.float32):
    return torch.randn(*batch, *S.shape, dtype=dtype)


def _plain(S, x):
    """The plain cascade's output for ``x`` (autograd forces it)."""
    with torch.enable_grad():
        out = S(x.clone().requires_grad_(True))
    if isinstance(out, list):
        return [{**p, "coef": p["coef"].detach()} for p in out]
    return out.detach()


# ------------------------------------------------------------------------------ dtypes and NaN
@pytest.mark.parametrize("S", _networks(), ids=["2d", "1d", "roto"])
def test_output_follows_the_input_dtype_for_tensors_and_arrays(S):
    x64 = _input(S, dtype=torch.float64)
    out64 = S(x64)
    assert out64.dtype == torch.float64
    out32 = S(x64.float())
    assert out32.dtype == torch.float32
    assert float((out32.double() - out64).abs().max() / out64.abs().max()) <= 1e-5
    a64 = S(x64.numpy())
    assert isinstance(a64, np.ndarray) and a64.dtype == np.float64
    np.testing.assert_array_equal(a64, out64.numpy())
    a32 = S(x64.float().numpy())
    assert a32.dtype == np.float32
    # the float64 result is the float64 cascade (filters from the float64 designs), not float32's
    assert float((out64 - out32.double()).abs().max()) > 0


@pytest.mark.parametrize("S", _networks(), ids=["2d", "1d", "roto"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, torch.complex64])
def test_other_dtypes_raise_type_error(S, dtype):
    x = _input(S).to(dtype)
    with pytest.raises(TypeError, match="float32 or float64"):
        S(x)


@pytest.mark.parametrize("S", _networks(), ids=["2d", "1d", "roto"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_inf_raise_unless_unchecked(S, bad):
    x = _input(S)
    x[0, ..., 3] = bad
    for grad in (False, True):          # the CPU engine and the plain cascade
        with torch.enable_grad(), pytest.raises(ValueError, match="NaN or inf"):
            S(x.clone().requires_grad_(grad))
    S.check_input = False
    try:
        out = S(x)
        assert not torch.isfinite(out).all()
    finally:
        S.check_input = True


@pytest.mark.parametrize("out_type", ["array", "list"])
def test_empty_batch_gives_an_empty_output(out_type):
    for S in (Scattering2D(2, (16, 16), L=4, out_type=out_type),
              Scattering1D(3, 128, Q=2, out_type=out_type)):
        full = S(_input(S, (1, 3)))
        for x in (_input(S, (0,)), _input(S, (0, 3)), _input(S, (0,)).numpy()):
            out = S(x)
            if out_type == "array":
                assert tuple(out.shape) == (*x.shape[:-len(S.shape)], *full.shape[2:])
            else:
                assert len(out) == len(full)
                assert all(tuple(o["coef"].shape) == (*x.shape[:-len(S.shape)], *f["coef"].shape[2:])
                           for o, f in zip(out, full))


# ---------------------------------------------------------------------------- module conversions
@pytest.mark.parametrize("S", _networks(), ids=["2d", "1d", "roto"])
@pytest.mark.parametrize("convert", [lambda S: S.half(), lambda S: S.bfloat16(),
                                     lambda S: S.to(torch.float16)], ids=["half", "bfloat16", "to"])
def test_half_precision_is_refused_at_conversion(S, convert):
    x = _input(S)
    ref = S(x)
    with pytest.raises(TypeError, match="float32 or float64"):
        convert(S)
    torch.testing.assert_close(S(x), ref)         # the network is unchanged


@pytest.mark.parametrize("S", _networks(), ids=["2d", "1d", "roto"])
def test_share_memory_shares_the_filters(S):
    S.share_memory()
    tensors = []
    from scatter._base import map_tensors

    map_tensors(S._filters, lambda t: tensors.append(t) or t)
    assert tensors and all(t.is_shared() for t in tensors)
    x = _input(S)
    torch.testing.assert_close(S(x), _plain(S, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("S", _networks(), ids=["2d", "1d", "roto"])
def test_pickled_network_computes_the_same(S):
    x = _input(S)
    ref = S(x)
    clone = pickle.loads(pickle.dumps(S))
    torch.testing.assert_close(clone(x), ref)


# ------------------------------------------------------------------------------- torch.compile
def _compiled_runs_silently(S, x):
    """Compile with fullgraph=True and run with and without autograd; return the outputs and
    what was printed or warned."""
    torch._dynamo.reset()
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        compiled = torch.compile(S, fullgraph=True, backend="aot_eager")
        with torch.no_grad():
            plain = compiled(x)
        xg = x.clone().requires_grad_(True)
        graded = compiled(xg)
        coefs = graded if isinstance(graded, torch.Tensor) else torch.cat([p["coef"] for p in graded], -1)
        coefs.sum().backward()
    torch._dynamo.reset()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
    return plain, graded, [str(w.message) for w in caught], err.getvalue()


@pytest.mark.parametrize("make", [lambda: Scattering2D(2, (16, 16), L=4),
                                  lambda: Scattering2D(2, (16, 16), L=2, out_type="list"),
                                  lambda: Scattering1D(3, 128, Q=2),
                                  lambda: Scattering1D(3, 128, Q=2, T=0, out_type="list"),
                                  lambda: RotoTranslationScattering2D(2, (16, 16), L=4)],
                         ids=["2d", "2d-list", "1d", "1d-unaveraged", "roto"])
def test_compiles_with_fullgraph_silently(make):
    S = make()
    x = _input(S)
    plain, graded, warned, printed = _compiled_runs_silently(S, x)
    assert warned == [] and printed == ""
    ref = S(x)
    if isinstance(ref, list):
        for a, b, r in zip(plain, graded, ref):
            torch.testing.assert_close(a["coef"], r["coef"], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(b["coef"].detach(), r["coef"], rtol=1e-5, atol=1e-5)
    else:
        torch.testing.assert_close(plain, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(graded.detach(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: Scattering2D(2, (16, 16), L=4), lambda: Scattering1D(3, 128, Q=2)],
                         ids=["2d", "1d"])
def test_float64_filters_prepared_when_needed_and_compiled_after_double(make):
    """Only float32 plain-cascade filters are kept at construction (CPU inference never needs
    float64 ones); float64 input prepares them outside torch.compile, ``.double()`` makes them
    ready for it, and inside a compiled graph without them the error says what to do."""
    S = make()
    assert set(S._filters) == {"float32"}
    x = _input(S).double()
    with torch.no_grad():
        S(x)                                      # the CPU engine: still no float64 plain filters
    assert set(S._filters) == {"float32"}
    ref = S(x.clone().requires_grad_(True))       # autograd: the plain cascade, prepared now
    assert set(S._filters) == {"float32", "float64"}
    fresh = make()
    torch._dynamo.reset()
    with pytest.raises(Exception, match=r"S.to\(torch.float64\)"):
        torch.compile(fresh, fullgraph=True, backend="aot_eager")(x)
    torch._dynamo.reset()
    plain, graded, warned, printed = _compiled_runs_silently(make().double(), x)
    assert warned == [] and printed == "" and plain.dtype == torch.float64
    torch.testing.assert_close(plain, ref.detach(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ parameters after construction
def test_assigned_parameters_take_effect_at_the_next_call():
    S = Scattering2D(2, (16, 16), L=4)
    x = _input(S)
    S.max_order = 1
    assert S(x).shape[1] == 1 + 2 * 4 == S.output_size() == len(S.meta()["order"])
    torch.testing.assert_close(S(x), Scattering2D(2, (16, 16), L=4, max_order=1)(x))
    S.L, S.J, S.shape = 2, 3, (24, 24)
    x = torch.randn(2, 24, 24)
    torch.testing.assert_close(S(x), Scattering2D(3, (24, 24), L=2, max_order=1)(x))
    S1 = Scattering1D(3, 128, Q=2)
    S1.Q = 4
    assert S1.Q == (4, 1)
    y = torch.randn(2, 128)
    torch.testing.assert_close(S1(y), Scattering1D(3, 128, Q=4)(y))
    S1.out_type = "dict"
    assert set(S1(y)) == set(S1.meta()["key"])


@pytest.mark.parametrize("name,value,error", [("max_order", 3, ValueError), ("J", 9, ScatteringShapeError),
                                              ("out_type", "dict", ValueError), ("L", 0, ValueError),
                                              ("backend", "numpy", ImportError)])
def test_invalid_assignment_raises_at_once_and_keeps_the_network(name, value, error):
    S = Scattering2D(2, (16, 16), L=4)
    x = _input(S)
    ref = S(x)
    with pytest.raises(error):
        setattr(S, name, value)
    torch.testing.assert_close(S(x), ref)


# ------------------------------------------------------------------------------ banks and J
def test_bank_whose_lowpass_averages_at_another_scale_is_refused():
    grid = padded_shape_2d((32, 32), 3)
    with pytest.raises(ValueError, match="low-pass"):
        Scattering2D(3, (32, 32), bank=lambda g: morlet_2d(g, J=2))
    # without phi_meta, the scale is estimated from the low-pass's band
    finer = morlet_2d(grid, J=2)
    with pytest.raises(ValueError, match="low-pass"):
        Scattering2D(3, (32, 32), bank=FilterBank(finer.psi, finer.phi, finer.meta))
    right = morlet_2d(grid, J=3)
    x = torch.randn(1, 32, 32)
    torch.testing.assert_close(Scattering2D(3, (32, 32), bank=FilterBank(right.psi, right.phi, right.meta))(x),
                               Scattering2D(3, (32, 32))(x))
    # curvelets with one more scale than J carry their low-pass's scale
    Scattering2D(3, (64, 64), bank=lambda g: curvelet_2d(g, scales=4, angles=8))
    with pytest.raises(ValueError, match="low-pass"):
        Scattering2D(3, (64, 64), bank=lambda g: curvelet_2d(g, scales=3, angles=8))


def test_shape_errors_are_value_and_runtime_errors():
    S2, S1 = Scattering2D(2, (16, 16), L=2), Scattering1D(3, 128)
    for S, x in ((S2, torch.zeros(1, 8, 16)), (S2, torch.zeros(16)), (S1, torch.zeros(1, 64)),
                 (S1, torch.zeros(()))):
        with pytest.raises(ScatteringShapeError) as info:
            S(x)
        assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
    with pytest.raises(RuntimeError):
        Scattering2D(5, (16, 16))


# ------------------------------------------------------------- the CPU engine against the core
_CASES_2D = [dict(J=2, shape=(16, 20), L=4), dict(J=3, shape=(32, 32), L=2, max_order=1),
             dict(J=2, shape=(16, 16), L=3, pre_pad=True)]


@pytest.mark.parametrize("params", _CASES_2D)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-12)])
def test_engine2d_matches_the_plain_cascade(params, dtype, tol):
    S = Scattering2D(**params)
    x = torch.randn(3, *S._grid_of_input(), dtype=dtype)
    engine, plain = S(x), _plain(S, x)
    assert float((engine - plain).abs().max() / plain.abs().max()) <= tol


@pytest.mark.parametrize("bank", [lambda g: curvelet_2d(g, scales=3, angles=8),
                                  lambda g: FilterBank(morlet_2d(g, 2, 4).psi + 0j, morlet_2d(g, 2, 4).phi + 0j,
                                                       morlet_2d(g, 2, 4).meta)],
                         ids=["curvelet", "complex"])
def test_engine2d_matches_the_plain_cascade_for_other_banks(bank):
    S = Scattering2D(2, (24, 24), bank=bank)
    x = torch.randn(2, 24, 24, dtype=torch.float64)
    engine, plain = S(x), _plain(S, x)
    assert float((engine - plain).abs().max() / plain.abs().max()) <= 1e-12


_CASES_1D = [dict(J=4, shape=256, Q=4), dict(J=5, shape=300, Q=(2, 2), T=16, oversampling=1),
             dict(J=4, shape=256, Q=2, max_order=1), dict(J=4, shape=200, Q=3, T=0, out_type="list"),
             dict(J=6, shape=1024, Q=8)]


@pytest.mark.parametrize("params", _CASES_1D)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-12)])
def test_engine1d_matches_the_plain_cascade(params, dtype, tol):
    S = Scattering1D(**params)
    x = torch.randn(3, S.shape[0], dtype=dtype)
    engine, plain = S(x), _plain(S, x)
    if isinstance(engine, list):
        for e, p in zip(engine, plain):
            assert float((e["coef"] - p["coef"]).abs().max() / p["coef"].abs().max()) <= tol
    else:
        assert float((engine - plain).abs().max() / plain.abs().max()) <= tol


def test_engine1d_matches_the_plain_cascade_for_complex_banks():
    n_pad = kymatio_padding_1d(256, 4, 4)
    bank = morlet_1d(n_pad, 4, 4)
    S = Scattering1D(4, 256, bank=FilterBank(bank.psi + 0j, bank.phi + 0j, bank.meta, phi_meta=bank.phi_meta))
    x = torch.randn(2, 256, dtype=torch.float64)
    engine, plain = S(x), _plain(S, x)
    assert float((engine - plain).abs().max() / plain.abs().max()) <= 1e-12
