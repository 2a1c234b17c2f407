"""Kymatio 0.3 drop-in contract for ``scatter.Scattering1D`` and ``scatter.Scattering2D``.

A Kymatio 0.3 user replaces ``from kymatio.torch import Scattering1D, Scattering2D`` by
``from scatter import Scattering1D, Scattering2D``: their code must run unchanged and give the
same numbers. This file is the executable specification of that promise. Tests marked
``needs_kymatio`` compare with Kymatio 0.3's torch frontends (the oracle); the others state the
same facts as constants (each verified against Kymatio by an oracle test) and run without it.

Constructors
    Kymatio's parameters in Kymatio's order, positionally or by keyword:
    1D ``(J, shape, Q=1, T=None, max_order=2, average=None, oversampling=0, out_type='array',
    backend='torch')``; 2D ``(J, shape, L=8, max_order=2, pre_pad=False, backend='torch',
    out_type='array')`` (in 2D ``backend`` comes *before* ``out_type``). Our own parameters
    (``bank``, ``check_input``, ``batch_size``) come after them, with defaults.
    ``backend``: None or 'torch'; any other string raises ImportError saying 'torch' is supported.
    ``J``: any integral scalar (int, NumPy integer, 0-d integer array). 1D ``shape``: an int or a
    1-tuple, stored as ``(N,)``. ``Q``: int, ``(Q1,)`` or ``(Q1, Q2)``, stored as Kymatio stores
    it, the tuple ``(Q1, Q2)``. ``T``/``average`` resolved and stored as Kymatio stores them
    (``T=None`` -> ``2**J``; ``T=0`` -> ``T = 2**J`` and ``average = False``; ``average=None`` ->
    True unless ``T=0``).

Outputs
    'array' ``(..., C, n)`` (2D ``(..., C, h, w)``); 'list' of dicts with at least Kymatio's keys
    (1D ``'coef', 'j', 'n'``; 2D ``'coef', 'j', 'n', 'theta'``) and Kymatio's values; 1D 'dict'
    keyed by ``()``, ``(n1,)``, ``(n1, n2)`` in Kymatio's order. Any leading dimensions.
    Coefficients equal to Kymatio's in float32 (max |ours - Kymatio| <= 1e-5 max |Kymatio|),
    gradients too.

Attributes and methods
    ``scattering(x)``, ``forward(x)`` and ``S(x)`` agree. 1D ``output_size()`` (an int),
    ``output_size(detail=True)`` (a list, one count per order), ``meta()`` (Kymatio's keys,
    arrays ``(C,)`` and ``(C, max_order)``), ``psi1_f``/``psi2_f``/``phi_f`` (Kymatio's structure
    and, to 1e-12, the float64 values of Kymatio's filter factory), Kymatio's stored attributes
    (``pad_left``, ``ind_start``, ``_N_padded``, ...). 2D ``M``, ``N``, ``M_padded``,
    ``N_padded`` (and Kymatio's ``_M_padded``, ``_N_padded``), ``psi``/``phi``.
    Attributes Kymatio reads at call time take effect at the next call, with ``output_size()``
    and ``meta()`` following: 1D ``max_order``, ``out_type``, ``average``, ``oversampling``;
    2D ``max_order``, ``out_type``. Attributes Kymatio freezes at construction (1D ``J``, ``Q``,
    ``T``, ``shape``, ``N``; 2D ``J``, ``L``, ``shape``, ``pre_pad``, ``M``, ``N``) either take
    effect (rebuild) or raise on assignment: never silently ignored, as Kymatio does.

Errors (what a Kymatio user's ``except`` clause catches)
    Where Kymatio raises RuntimeError (2D: wrong spatial size, fewer than two dimensions, J too
    large for the shape, an unknown out_type; 1D: a signal of the wrong length), ours raises an
    exception that is an instance of both RuntimeError and ValueError. Where Kymatio raises
    ValueError, TypeError, NotImplementedError or ImportError, ours raises that type. Integer or
    complex input (Kymatio: a RuntimeError from torch's internals) raises an instance of both
    TypeError and RuntimeError. Errors Kymatio raises only when called (bad ``out_type``,
    ``oversampling``, ``average=False`` with 'array') may be raised at construction instead.

Modules
    ``torch.nn.Module``s: ``.to()``, ``.cpu()``, ``.cuda()``, ``.double()``, ``copy.deepcopy``;
    a state dict saved with Kymatio's network inside a model loads into the same model built
    with ours.

Deliberate differences (docs/coming_from_kymatio.md lists them all): ``max_order`` outside
{1, 2} raises (Kymatio accepts it); NaN/inf input raises ValueError unless
``check_input=False``; input of the other precision than the network's may be computed in the
input's dtype (Kymatio: TypeError); non-contiguous input and NumPy arrays are accepted; error
messages differ; ``2**J > N`` raises in 1D (Kymatio returns empty coefficients).
"""
from __future__ import annotations

import copy
import importlib.util
import inspect
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from scatter import Scattering1D, Scattering2D

try:
    import kymatio.torch as ktorch
except ImportError:
    # kymatio.torch also imports Kymatio's 3D frontend, whose filter bank imports
    # scipy.special.sph_harm (removed in SciPy 1.17): import the 1D and 2D torch frontends,
    # the very classes kymatio.torch exports as Scattering1D and Scattering2D, directly.
    try:
        from kymatio.scattering1d.frontend.torch_frontend import ScatteringTorch1D
        from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
        ktorch = SimpleNamespace(Scattering1D=ScatteringTorch1D, Scattering2D=ScatteringTorch2D)
    except ImportError:
        ktorch = None
if ktorch is not None:
    import kymatio

    if not kymatio.__version__.startswith("0.3"):
        ktorch = None

# (the reason's wording is the one tests/_oracles.py gives every oracle skip)
needs_kymatio = pytest.mark.skipif(ktorch is None, reason="kymatio 0.3 (the oracle) is not installed: "
                                                          "pip install -e .[test]")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

REQUIRED = inspect.Parameter.empty

# Kymatio 0.3's torch frontends (kymatio/scattering{1,2}d/frontend/torch_frontend.py)
KYMATIO_1D_PARAMS = [("J", REQUIRED), ("shape", REQUIRED), ("Q", 1), ("T", None), ("max_order", 2),
                     ("average", None), ("oversampling", 0), ("out_type", "array"), ("backend", "torch")]
KYMATIO_2D_PARAMS = [("J", REQUIRED), ("shape", REQUIRED), ("L", 8), ("max_order", 2), ("pre_pad", False),
                     ("backend", "torch"), ("out_type", "array")]

N1 = 256            # 1D signal length of most tests
SHAPE2 = (32, 32)   # 2D image shape of most tests


# ------------------------------------------------------------------------------------ helpers

def k1d(*args, **kwargs):
    """Kymatio's 1D network (its DeprecationWarning on ``average`` silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ktorch.Scattering1D(*args, **kwargs)


def k2d(*args, **kwargs):
    return ktorch.Scattering2D(*args, **kwargs)


def ours1d(*args, **kwargs):
    """Our 1D network (a DeprecationWarning on ``average``, as Kymatio's, is allowed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return Scattering1D(*args, **kwargs)


def signal(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def image(*shape, seed=0, dtype=torch.float32):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def padded_2d(shape, J):
    """Kymatio's padded grid (kymatio/scattering2d/utils.py compute_padding)."""
    return tuple(((s + 2 ** J) // 2 ** J + 1) * 2 ** J for s in shape)


def to_np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def coefs_of(out):
    """The coefficient arrays of an output of any out_type, in output order."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return list(out.values())
    return [c["coef"] for c in out]


def assert_same_output(ours, ref, tol=1e-5):
    """``ours`` equals ``ref`` (an output of any out_type): container, order, keys, meta values,
    shapes, dtypes, and coefficients to ``tol`` times the largest reference coefficient."""
    scale = max(float(np.abs(to_np(c)).max()) for c in coefs_of(ref) if c.numel()) or 1.0

    def close(a, b, where):
        assert isinstance(a, torch.Tensor), f"{where}: {type(a).__name__}, expected a torch.Tensor"
        assert a.shape == b.shape, f"{where}: shape {tuple(a.shape)}, expected {tuple(b.shape)}"
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype}, expected {b.dtype}"
        if b.numel():
            err = float(np.abs(to_np(a).astype(np.float64) - to_np(b)).max()) / scale
            assert err <= tol, f"{where}: relative error {err:.3g} > {tol}"

    if isinstance(ref, torch.Tensor):
        close(ours, ref, "array output")
    elif isinstance(ref, dict):
        assert isinstance(ours, dict), f"out_type='dict' gave {type(ours).__name__}"
        assert list(ours) == list(ref), f"dict keys {list(ours)[:6]}..., expected {list(ref)[:6]}..."
        for key in ref:
            close(ours[key], ref[key], f"dict[{key}]")
    else:
        assert isinstance(ours, list), f"out_type='list' gave {type(ours).__name__}"
        assert len(ours) == len(ref), f"{len(ours)} paths, expected {len(ref)}"
        for i, (o, r) in enumerate(zip(ours, ref)):
            assert isinstance(o, dict)
            missing = set(r) - set(o)
            assert not missing, f"list[{i}] lacks Kymatio's keys {missing}"
            for key in r:
                if key == "coef":
                    close(o[key], r[key], f"list[{i}]['coef']")
                else:
                    assert o[key] == r[key], f"list[{i}][{key!r}] = {o[key]!r}, expected {r[key]!r}"


def assert_raises(types, fn):
    """``fn()`` raises an exception that is an instance of every class in ``types``."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the point is to inspect the type
        missing = [t.__name__ for t in types if not isinstance(e, t)]
        assert not missing, (f"raised {type(e).__name__}({e}), which is not an instance of "
                             f"{', '.join(missing)}")
        return e
    names = " and ".join(t.__name__ for t in types)
    pytest.fail(f"did not raise {names}")


def assert_meta_equal(ours: dict, ref: dict):
    missing = set(ref) - set(ours)
    assert not missing, f"meta() lacks Kymatio's keys {missing}"
    for key, value in ref.items():
        if isinstance(value, np.ndarray):
            got = np.asarray(ours[key])
            assert got.shape == value.shape, f"meta()[{key!r}] shape {got.shape}, expected {value.shape}"
            np.testing.assert_allclose(got, value, rtol=1e-10, atol=0, equal_nan=True,
                                       err_msg=f"meta()[{key!r}]")
        else:
            assert list(ours[key]) == list(value), f"meta()[{key!r}]"


def assert_1d_info_consistent(S, out):
    """``output_size()`` and ``meta()`` describe ``out`` (any out_type) in Kymatio's form."""
    coefs = coefs_of(out)
    C = out.shape[-2] if isinstance(out, torch.Tensor) else len(coefs)
    assert S.output_size() == C
    assert isinstance(S.output_size(), int)
    detail = S.output_size(detail=True)
    assert isinstance(detail, list), \
        f"output_size(detail=True) is a {type(detail).__name__}, Kymatio's a list"
    assert len(detail) == S.max_order + 1 and sum(detail) == C
    meta = S.meta()
    assert {"order", "xi", "sigma", "j", "n", "key"} <= set(meta)
    assert np.asarray(meta["order"]).shape == (C,)
    for key in ("xi", "sigma", "j", "n"):
        assert np.asarray(meta[key]).shape == (C, S.max_order), f"meta()[{key!r}]"
    assert len(meta["key"]) == C
    assert [int(np.sum(np.asarray(meta["order"]) == o)) for o in range(S.max_order + 1)] == detail
    if isinstance(out, dict):
        assert list(out) == list(meta["key"])
    elif isinstance(out, list):
        assert [c["n"] for c in out] == list(meta["key"])


# ========================================================================== 1. constructors

@pytest.mark.parametrize("cls,params", [(Scattering1D, KYMATIO_1D_PARAMS), (Scattering2D, KYMATIO_2D_PARAMS)],
                         ids=["1d", "2d"])
def test_signature_starts_with_kymatios(cls, params):
    """Kymatio's parameters, in Kymatio's order, with Kymatio's defaults (``backend``: None or
    'torch'); our own parameters after them, all with defaults."""
    sig = list(inspect.signature(cls).parameters.values())
    names = [p.name for p in sig[:len(params)]]
    assert names == [name for name, _ in params]
    for p, (name, default) in zip(sig, params):
        assert p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY), f"{name} is not positional"
        if name == "backend":
            assert p.default in (None, "torch")
        else:
            assert p.default is default or p.default == default, \
                f"{name} defaults to {p.default!r}, Kymatio's to {default!r}"
    for p in sig[len(params):]:
        assert p.default is not REQUIRED or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD), \
            f"our extra parameter {p.name} must have a default"


@needs_kymatio
@pytest.mark.parametrize("kcls,params", [("Scattering1D", KYMATIO_1D_PARAMS),
                                         ("Scattering2D", KYMATIO_2D_PARAMS)], ids=["1d", "2d"])
def test_kymatio_signature_is_as_stated(kcls, params):
    """(Oracle) the signatures the previous test holds ours to are Kymatio's."""
    sig = inspect.signature(getattr(ktorch, kcls)).parameters.values()
    assert [(p.name, p.default) for p in sig] == params


def test_1d_positional_arguments_in_kymatios_order():
    S = ours1d(5, N1, 8, 16, 1, None, 1, "list", "torch")
    assert (S.J, S.shape, S.Q, S.T, S.max_order, S.average, S.oversampling, S.out_type) == \
        (5, (N1,), (8, 1), 16, 1, True, 1, "list")
    assert isinstance(S(signal(N1)), list)


def test_2d_positional_arguments_in_kymatios_order():
    """The sixth positional argument is ``backend``, the seventh ``out_type``."""
    S = Scattering2D(2, SHAPE2, 4, 1, False, "torch", "list")
    assert (S.J, tuple(S.shape), S.L, S.max_order, S.pre_pad, S.out_type) == (2, SHAPE2, 4, 1, False, "list")
    out = S(image(*SHAPE2))
    assert isinstance(out, list) and len(out) == 1 + 2 * 4


@needs_kymatio
def test_positional_arguments_give_kymatios_output():
    x = signal(2, N1)
    args = (5, N1, 8, 16, 1, None, 1, "dict", "torch")
    assert_same_output(ours1d(*args)(x), k1d(*args)(x))
    y = image(2, *SHAPE2)
    args = (2, SHAPE2, 4, 1, False, "torch", "list")
    assert_same_output(Scattering2D(*args)(y), k2d(*args)(y))


@pytest.mark.parametrize("backend", [None, "torch"])
def test_backend_none_or_torch_accepted(backend):
    x, y = signal(N1), image(*SHAPE2)
    assert ours1d(5, N1, backend=backend)(x).shape == ours1d(5, N1)(x).shape
    assert Scattering2D(2, SHAPE2, backend=backend)(y).shape == Scattering2D(2, SHAPE2)(y).shape


BAD_BACKENDS = ["numpy", "tensorflow", "jax", "keras", "sklearn", "torch_skcuda", "torchx", ""]


@pytest.mark.parametrize("backend", BAD_BACKENDS)
def test_other_backends_raise_import_error_naming_torch(backend):
    for make in (lambda: ours1d(5, N1, backend=backend), lambda: Scattering2D(2, SHAPE2, backend=backend)):
        e = assert_raises((ImportError,), make)
        message = str(e)
        assert backend in message and "torch" in message.replace(backend, ""), \
            f"the message should name {backend!r} and say that 'torch' is supported: {message}"


@needs_kymatio
@pytest.mark.parametrize("backend", BAD_BACKENDS)
def test_kymatio_rejects_other_backends_with_import_error(backend):
    """(Oracle.) 'torch_skcuda' only because scikit-cuda is not installed."""
    if backend == "torch_skcuda" and importlib.util.find_spec("skcuda") is not None:
        pytest.skip("scikit-cuda installed: Kymatio accepts torch_skcuda")
    assert_raises((ImportError,), lambda: k1d(5, N1, backend=backend))
    assert_raises((ImportError,), lambda: k2d(2, SHAPE2, backend=backend))


INTEGRAL_J = [np.int64, np.int32, np.array, int]


@pytest.mark.parametrize("make", INTEGRAL_J, ids=["int64", "int32", "0-d array", "int"])
def test_J_any_integral_scalar(make):
    x, y = signal(2, N1), image(2, *SHAPE2)
    S = ours1d(make(5), N1)
    assert S.J == 5
    torch.testing.assert_close(S(x), ours1d(5, N1)(x), rtol=0, atol=0)
    S = Scattering2D(make(2), SHAPE2)
    assert S.J == 2
    torch.testing.assert_close(S(y), Scattering2D(2, SHAPE2)(y), rtol=0, atol=0)


@needs_kymatio
@pytest.mark.parametrize("make", INTEGRAL_J, ids=["int64", "int32", "0-d array", "int"])
def test_kymatio_accepts_integral_J(make):
    assert k1d(make(5), N1)(signal(N1)).shape == (19, 8)
    assert k2d(make(2), SHAPE2)(image(*SHAPE2)).shape == (81, 8, 8)


def test_1d_J_zero():
    """Kymatio 0.3 accepts J=0 in 1D: T=1, the input itself (S0) and one first-order path."""
    S = ours1d(0, N1)
    assert S.T == 1 and S.output_size(detail=True) == [1, 1, 0]
    assert S(signal(N1)).shape == (2, N1)


def test_2d_float_J_or_L_raise_type_error():
    """Kymatio: TypeError ('float' object cannot be interpreted as an integer)."""
    assert_raises((TypeError,), lambda: Scattering2D(2.0, SHAPE2))
    assert_raises((TypeError,), lambda: Scattering2D(2, SHAPE2, L=4.0))


@pytest.mark.parametrize("shape", [N1, (N1,), np.int64(N1)], ids=["int", "tuple", "int64"])
def test_1d_shape_int_or_1_tuple(shape):
    S = ours1d(5, shape)
    assert S.shape == (N1,) and isinstance(S.shape, tuple)
    assert S.N == N1
    assert S(signal(N1)).shape == (19, 8)


@pytest.mark.parametrize("shape", [(N1, N1), float(N1)], ids=["2-tuple", "float"])
def test_1d_bad_shape_raises_value_error(shape):
    """Kymatio: ValueError ('shape must be an integer or a 1-tuple'; also for a list ``[N]``,
    which ours may accept)."""
    assert_raises((ValueError,), lambda: ours1d(5, shape))


@pytest.mark.parametrize("shape", [(32, 32), [32, 32], np.array([32, 32]), (32, 48), (30, 45)],
                         ids=["tuple", "list", "array", "rect", "odd"])
def test_2d_shape_forms(shape):
    S = Scattering2D(2, shape)
    assert tuple(int(s) for s in S.shape) == tuple(int(s) for s in shape)
    size = tuple(int(s) for s in shape)
    padded = padded_2d(size, 2)
    assert S(image(*size)).shape == (81, padded[0] // 4 - 2, padded[1] // 4 - 2)


@pytest.mark.parametrize("shape,exc", [(32, TypeError), ((32, 32, 32), ValueError), ((32,), ValueError)],
                         ids=["int", "3-tuple", "1-tuple"])
def test_2d_bad_shape(shape, exc):
    """Kymatio unpacks ``M, N = shape``: TypeError for an int, ValueError for a wrong length."""
    assert_raises((exc,), lambda: Scattering2D(2, shape))


@pytest.mark.parametrize("Q,stored", [(1, (1, 1)), (8, (8, 1)), ((8,), (8, 1)), ((8, 2), (8, 2)),
                                      (np.int64(8), (8, 1))],
                         ids=["1", "8", "(8,)", "(8,2)", "int64"])
def test_1d_Q_stored_as_kymatio_stores_it(Q, stored):
    """Kymatio stores ``Q`` as the tuple ``(Q1, Q2)`` (Kymatio itself rejects a NumPy integer
    with ValueError; we accept it)."""
    S = ours1d(4, N1, Q)
    assert S.Q == stored and type(S.Q) is tuple and all(type(q) is int for q in S.Q)


Q_ERRORS = [(0, ValueError), ((0, 1), ValueError), (1.5, ValueError),
            ((1, 2, 3), NotImplementedError), ((), NotImplementedError)]


@pytest.mark.parametrize("Q,exc", Q_ERRORS, ids=["0", "(0,1)", "1.5", "3-tuple", "()"])
def test_1d_bad_Q(Q, exc):
    """Kymatio's types (it also rejects a list ``[Q1]`` with ValueError; ours may accept it)."""
    assert_raises((exc,), lambda: ours1d(4, N1, Q))


@needs_kymatio
@pytest.mark.parametrize("Q,exc", Q_ERRORS + [([8], ValueError), (np.int64(8), ValueError)],
                         ids=["0", "(0,1)", "1.5", "3-tuple", "()", "[8]", "int64"])
def test_kymatio_bad_Q(Q, exc):
    assert_raises((exc,), lambda: k1d(4, N1, Q))


# (T, average) -> (stored T, stored average); J=5, N=256, out_type='list' (unaveraged-safe)
T_AVERAGE = [((None, None), (32, True)), ((None, True), (32, True)), ((None, False), (32, False)),
             ((16, None), (16, True)), ((16, True), (16, True)), ((20, None), (20, True)),
             ((16.0, None), (16, True)), ((256, None), (256, True)),
             ((0, None), (32, False)), ((0, False), (32, False))]


@pytest.mark.parametrize("given,stored", T_AVERAGE, ids=[str(g) for g, _ in T_AVERAGE])
def test_1d_T_and_average_stored_as_kymatio_stores_them(given, stored):
    T, average = given
    S = ours1d(5, N1, T=T, average=average, out_type="list")
    assert (S.T, S.average) == stored
    assert S.average is stored[1]


@needs_kymatio
@pytest.mark.parametrize("given,stored", T_AVERAGE, ids=[str(g) for g, _ in T_AVERAGE])
def test_kymatio_T_and_average_storage(given, stored):
    S = k1d(5, N1, T=given[0], average=given[1], out_type="list")
    assert (S.T, S.average) == stored


T_ERRORS = [(300, None), (0.5, None), (-1, None), (0, True), (16, False)]


@pytest.mark.parametrize("T,average", T_ERRORS, ids=[str(e) for e in T_ERRORS])
def test_1d_bad_T_or_average_raise_value_error(T, average):
    assert_raises((ValueError,), lambda: ours1d(5, N1, T=T, average=average, out_type="list"))


@needs_kymatio
@pytest.mark.parametrize("T,average", T_ERRORS, ids=[str(e) for e in T_ERRORS])
def test_kymatio_bad_T_or_average(T, average):
    assert_raises((ValueError,), lambda: k1d(5, N1, T=T, average=average, out_type="list"))


@pytest.mark.parametrize("max_order", [0, 3])
def test_max_order_outside_1_2_raises_value_error(max_order):
    """A deliberate difference: Kymatio accepts any value (1D: 0 and 3 compute orders 0-1;
    2D: 0 computes orders 0-1, 3 orders 0-2), its docs say 1 or 2."""
    assert_raises((ValueError,), lambda: ours1d(5, N1, max_order=max_order)(signal(N1)))
    assert_raises((ValueError,), lambda: Scattering2D(2, SHAPE2, max_order=max_order)(image(*SHAPE2)))


@pytest.mark.parametrize("oversampling", [0, 1, 2, np.int64(1), 10])
def test_1d_oversampling_values(oversampling):
    S = ours1d(5, N1, oversampling=oversampling)
    assert S.oversampling == oversampling
    assert S(signal(N1)).shape == (19, min(8 * 2 ** int(oversampling), N1))


@pytest.mark.parametrize("oversampling", [-1, 1.5])
def test_1d_bad_oversampling_raises_value_error(oversampling):
    """Kymatio: ValueError when called (the constructor accepts it); ours may raise earlier."""
    assert_raises((ValueError,), lambda: ours1d(5, N1, oversampling=oversampling)(signal(N1)))


def test_1d_out_types():
    x = signal(2, N1)
    assert isinstance(ours1d(5, N1, out_type="array")(x), torch.Tensor)
    out = ours1d(5, N1, out_type="list")(x)
    assert isinstance(out, list) and len(out) == 19 and {"coef", "j", "n"} <= set(out[0])
    out = ours1d(5, N1, out_type="dict")(x)
    assert isinstance(out, dict) and list(out)[:3] == [(), (0,), (1,)] and out[()].shape == (2, 8)
    assert all(isinstance(k, tuple) for k in out)


@pytest.mark.parametrize("kwargs", [dict(out_type="foo"), dict(T=0, out_type="array"),
                                    dict(average=False, out_type="array")],
                         ids=["foo", "T=0 array", "average=False array"])
def test_1d_bad_out_type_raises_value_error(kwargs):
    """Kymatio: ValueError when called; ours may raise at construction."""
    assert_raises((ValueError,), lambda: ours1d(5, N1, **kwargs)(signal(N1)))


def test_2d_out_types():
    y = image(2, *SHAPE2)
    assert Scattering2D(2, SHAPE2, out_type="array")(y).shape == (2, 81, 8, 8)
    out = Scattering2D(2, SHAPE2, out_type="list")(y)
    assert isinstance(out, list) and len(out) == 81
    assert {"coef", "j", "n", "theta"} <= set(out[0])
    assert (out[0]["j"], out[0]["n"], out[0]["theta"]) == ((), (), ())
    assert (out[1]["j"], out[1]["n"], out[1]["theta"]) == ((0,), (0,), (0,))
    assert (out[-1]["j"], out[-1]["n"], out[-1]["theta"]) == ((0, 1), (7, 15), (7, 7))
    assert out[0]["coef"].shape == (2, 8, 8)


@pytest.mark.parametrize("out_type", ["dict", "foo"])
def test_2d_bad_out_type_raises_runtime_and_value_error(out_type):
    """Kymatio: RuntimeError when called ('The out_type must be one of ...')."""
    assert_raises((RuntimeError, ValueError),
                  lambda: Scattering2D(2, SHAPE2, out_type=out_type)(image(*SHAPE2)))


@pytest.mark.parametrize("L", [4, 6, np.int64(4), 8])
def test_2d_L_values(L):
    S = Scattering2D(2, SHAPE2, L)
    assert S.L == L
    L = int(L)
    assert S(image(*SHAPE2)).shape == (1 + 2 * L + L * L, 8, 8)


def test_2d_pre_pad():
    S = Scattering2D(2, SHAPE2, pre_pad=True)
    assert S.pre_pad is True
    assert S(image(3, *padded_2d(SHAPE2, 2))).shape == (3, 81, 8, 8)


# ========================================================= 2. outputs: Kymatio's numbers and forms

CONFIGS_1D = [
    dict(J=5, shape=256),
    dict(J=4, shape=512, Q=8),
    dict(J=5, shape=1024, Q=(8, 2)),
    dict(J=5, shape=256, T=16),
    dict(J=4, shape=300, Q=2, T=20, oversampling=1),
    dict(J=3, shape=(256,), max_order=1, oversampling=2),
    dict(J=5, shape=256, oversampling=10),
    dict(J=5, shape=256, out_type="list"),
    dict(J=4, shape=512, Q=(4,), out_type="dict"),
    dict(J=5, shape=256, T=0, out_type="list"),
    dict(J=5, shape=256, average=False, out_type="dict"),
    dict(J=5, shape=256, T=0, oversampling=1, out_type="list"),
    dict(J=5, shape=256, T=16, max_order=1, out_type="dict"),
    dict(J=8, shape=256),
    dict(J=0, shape=256),
]


def _ids(configs):
    return [",".join(f"{k}={v}" for k, v in c.items()) for c in configs]


@needs_kymatio
@pytest.mark.parametrize("kwargs", CONFIGS_1D, ids=_ids(CONFIGS_1D))
def test_1d_matches_kymatio(kwargs):
    N = kwargs["shape"] if isinstance(kwargs["shape"], int) else kwargs["shape"][0]
    x = signal(2, N, seed=N)
    K, S = k1d(**kwargs), ours1d(**kwargs)
    ref = K(x)
    assert_same_output(S(x), ref)
    assert_same_output(S.scattering(x), ref)
    assert S.output_size() == K.output_size()
    assert S.output_size(detail=True) == K.output_size(detail=True)
    assert_meta_equal(S.meta(), K.meta())
    assert_1d_info_consistent(S, S(x))


CONFIGS_2D = [
    dict(J=2, shape=(32, 32)),
    dict(J=3, shape=(32, 32), L=4, max_order=1),
    dict(J=2, shape=(32, 48), L=6),
    dict(J=2, shape=(30, 45)),
    dict(J=1, shape=(32, 32)),
    dict(J=2, shape=(32, 32), pre_pad=True),
    dict(J=3, shape=(32, 32), pre_pad=True, out_type="list"),
    dict(J=2, shape=(32, 32), out_type="list"),
]


@needs_kymatio
@pytest.mark.parametrize("kwargs", CONFIGS_2D, ids=_ids(CONFIGS_2D))
def test_2d_matches_kymatio(kwargs):
    K, S = k2d(**kwargs), Scattering2D(**kwargs)
    size = (K._M_padded, K._N_padded) if kwargs.get("pre_pad") else kwargs["shape"]
    y = image(2, *size, seed=size[0])
    ref = K(y)
    assert_same_output(S(y), ref)
    assert_same_output(S.scattering(y), ref)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)], ids=["none", "(3,)", "(2,3)"])
@pytest.mark.parametrize("out_type", ["array", "list", "dict"])
def test_1d_leading_dimensions(lead, out_type):
    x = signal(*lead, N1)
    T = 0 if out_type == "dict" else None  # dict: unaveraged maps of several lengths too
    S = ours1d(5, N1, T=T, out_type=out_type)
    out = S(x)
    flat = S(x.reshape(-1, N1))
    if out_type == "array":
        assert out.shape == (*lead, 19, 8)
        torch.testing.assert_close(out.reshape(-1, 19, 8), flat)
    else:
        for c, f in zip(coefs_of(out), coefs_of(flat)):
            assert c.shape == (*lead, f.shape[-1])
            torch.testing.assert_close(c.reshape(f.shape), f)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)], ids=["none", "(3,)", "(2,3)"])
@pytest.mark.parametrize("out_type", ["array", "list"])
def test_2d_leading_dimensions(lead, out_type):
    y = image(*lead, *SHAPE2)
    S = Scattering2D(2, SHAPE2, out_type=out_type)
    out = S(y)
    flat = S(y.reshape(-1, *SHAPE2))
    if out_type == "array":
        assert out.shape == (*lead, 81, 8, 8)
        torch.testing.assert_close(out.reshape(-1, 81, 8, 8), flat)
    else:
        for c, f in zip(coefs_of(out), coefs_of(flat)):
            assert c.shape == (*lead, 8, 8)
            torch.testing.assert_close(c.reshape(f.shape), f)


@needs_kymatio
@pytest.mark.parametrize("lead", [(), (2, 3)], ids=["none", "(2,3)"])
def test_leading_dimensions_match_kymatio(lead):
    x = signal(*lead, N1)
    for out_type, T in (("array", None), ("list", None), ("dict", 0)):
        assert_same_output(ours1d(5, N1, T=T, out_type=out_type)(x), k1d(5, N1, T=T, out_type=out_type)(x))
    y = image(*lead, *SHAPE2)
    for out_type in ("array", "list"):
        assert_same_output(Scattering2D(2, SHAPE2, out_type=out_type)(y),
                           k2d(2, SHAPE2, out_type=out_type)(y))


def test_scattering_forward_and_call_agree():
    x, y = signal(2, N1), image(2, *SHAPE2)
    for S, inp in ((ours1d(5, N1), x), (Scattering2D(2, SHAPE2), y)):
        ref = S(inp)
        torch.testing.assert_close(S.scattering(inp), ref, rtol=0, atol=0)
        torch.testing.assert_close(S.forward(inp), ref, rtol=0, atol=0)


@needs_kymatio
def test_gradients_match_kymatio():
    x = signal(2, N1, seed=1).requires_grad_()
    w = signal(2, 19, 8, seed=2)
    ref = torch.autograd.grad((k1d(5, N1)(x) * w).sum(), x)[0]
    got = torch.autograd.grad((ours1d(5, N1)(x) * w).sum(), x)[0]
    assert_same_output(got, ref)
    y = image(2, *SHAPE2, seed=3).requires_grad_()
    w = signal(2, 81, 8, 8, seed=4)
    ref = torch.autograd.grad((k2d(2, SHAPE2)(y) * w).sum(), y)[0]
    got = torch.autograd.grad((Scattering2D(2, SHAPE2)(y) * w).sum(), y)[0]
    assert_same_output(got, ref)


# ============================================================ 3. attributes, methods, filters

def test_1d_stored_attributes():
    """Kymatio 0.3's values for J=5, N=256 (see the oracle test below)."""
    S = ours1d(5, N1)
    assert (S.J, S.shape, S.Q, S.T, S.max_order, S.average, S.oversampling, S.out_type) == \
        (5, (256,), (1, 1), 32, 2, True, 0, "array")
    assert (S._N_padded, S.pad_left, S.pad_right, S.log2_T, S.N) == (512, 128, 128, 5, 256)
    assert S.ind_start == {0: 128, 1: 64, 2: 32, 3: 16, 4: 8, 5: 4}
    assert S.ind_end == {0: 384, 1: 192, 2: 96, 3: 48, 4: 24, 5: 12}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert S.J_pad == 9
    assert (S.r_psi, S.sigma0, S.alpha) == (np.sqrt(0.5), 0.1, 5.0)


ATTRS_1D = ["J", "shape", "Q", "T", "max_order", "average", "oversampling", "out_type", "_N_padded",
            "pad_left", "pad_right", "log2_T", "ind_start", "ind_end", "N", "J_pad",
            "r_psi", "sigma0", "alpha"]
ATTR_CONFIGS_1D = CONFIGS_1D[:7] + CONFIGS_1D[9:10]


@needs_kymatio
@pytest.mark.parametrize("kwargs", ATTR_CONFIGS_1D, ids=_ids(ATTR_CONFIGS_1D))
def test_1d_attributes_match_kymatio(kwargs):
    K, S = k1d(**kwargs), ours1d(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Kymatio's N and J_pad warn
        wrong = [f"{name}: {getattr(S, name, '<missing>')!r}, Kymatio's {getattr(K, name)!r}"
                 for name in ATTRS_1D if getattr(S, name, "<missing>") != getattr(K, name)]
    assert not wrong, "; ".join(wrong)


def test_2d_stored_attributes():
    S = Scattering2D(2, (32, 48), 6, 1, True, None, "list")
    assert (S.J, tuple(S.shape), S.L, S.max_order, S.pre_pad, S.out_type) == (2, (32, 48), 6, 1, True, "list")
    assert (S.M, S.N) == (32, 48)
    assert (S.M_padded, S.N_padded) == (S._M_padded, S._N_padded) == padded_2d((32, 48), 2) == (40, 56)


@needs_kymatio
@pytest.mark.parametrize("kwargs", CONFIGS_2D, ids=_ids(CONFIGS_2D))
def test_2d_attributes_match_kymatio(kwargs):
    """Kymatio's ``M`` and ``N`` raise NameError in 0.3 (an unimported ``warn``): ours give
    ``shape[0]`` and ``shape[1]`` as Kymatio intends; ``M_padded``/``N_padded`` are in Kymatio's
    docstring, its object has ``_M_padded``/``_N_padded``."""
    K, S = k2d(**kwargs), Scattering2D(**kwargs)
    expected = {name: getattr(K, name) for name in ("J", "L", "max_order", "pre_pad", "out_type",
                                                       "_M_padded", "_N_padded")}
    expected.update(M=K.shape[0], N=K.shape[1], M_padded=K._M_padded, N_padded=K._N_padded)
    wrong = [f"{name}: {getattr(S, name, '<missing>')!r}, expected {value!r}"
             for name, value in expected.items() if getattr(S, name, "<missing>") != value]
    assert not wrong, "; ".join(wrong)
    assert tuple(S.shape) == tuple(K.shape)


def _filter_factory(S):
    from kymatio.scattering1d.filter_bank import scattering_filter_factory
    return scattering_filter_factory(S._N_padded, S.J, S.Q, S.T,
                                     r_psi=S.r_psi, sigma0=S.sigma0, alpha=S.alpha)


def _assert_filter_dict(ours, kym, design, where):
    """One filter of ``psi1_f``/``psi2_f``/``phi_f``: Kymatio's keys and scalars, its levels'
    count and shapes (``(N_padded / 2**k, 1)`` tensors), values of Kymatio's float64 design."""
    assert set(ours) >= set(kym), f"{where}: keys {set(ours)}, Kymatio's {set(kym)}"
    for key in ("xi", "sigma"):
        assert ours[key] == pytest.approx(kym[key], rel=1e-12, abs=0), f"{where}[{key!r}]"
    assert ours["j"] == kym["j"], f"{where}['j']"
    assert len(ours["levels"]) == len(kym["levels"]), f"{where}: {len(ours['levels'])} levels"
    for k, (o, r, d) in enumerate(zip(ours["levels"], kym["levels"], design["levels"])):
        assert tuple(o.shape) == tuple(r.shape), f"{where}['levels'][{k}] shape {tuple(o.shape)}"
        o = to_np(o).reshape(-1)
        err = np.abs(o - d).max() / np.abs(d).max()
        assert err <= 1e-12, f"{where}['levels'][{k}]: relative error {err:.3g}"


@needs_kymatio
@pytest.mark.parametrize("kwargs", [dict(J=5, shape=256), dict(J=4, shape=300, Q=(8, 2), T=20),
                                    dict(J=3, shape=512, Q=12, T=0, out_type="list")],
                         ids=["J5", "Q82T20", "Q12T0"])
def test_1d_filters_as_kymatio_exposes_them(kwargs):
    """``psi1_f``, ``psi2_f`` (lists of dicts) and ``phi_f`` (a dict): keys 'levels', 'xi',
    'sigma', 'j'; ``levels[k]`` the filter for maps subsampled by 2**k, shaped ``(N_padded / 2**k, 1)``
    as Kymatio's tensors (Kymatio's examples plot ``psi['levels'][0]``); values those of
    Kymatio's float64 filter factory to 1e-12 (Kymatio's own tensors are float32)."""
    K, S = k1d(**kwargs), ours1d(**kwargs)
    phi, psi1, psi2 = _filter_factory(K)
    assert isinstance(S.psi1_f, list) and isinstance(S.psi2_f, list) and isinstance(S.phi_f, dict)
    assert len(S.psi1_f) == len(K.psi1_f) and len(S.psi2_f) == len(K.psi2_f)
    _assert_filter_dict(S.phi_f, K.phi_f, phi, "phi_f")
    assert S.phi_f["xi"] == 0 and S.phi_f["j"] == S.log2_T
    for n, (o, k, d) in enumerate(zip(S.psi1_f, K.psi1_f, psi1)):
        _assert_filter_dict(o, k, d, f"psi1_f[{n}]")
    for n, (o, k, d) in enumerate(zip(S.psi2_f, K.psi2_f, psi2)):
        _assert_filter_dict(o, k, d, f"psi2_f[{n}]")


@needs_kymatio
@pytest.mark.parametrize("kwargs", [dict(J=2, shape=(32, 32)), dict(J=3, shape=(32, 48), L=4)],
                         ids=["J2", "J3L4"])
def test_2d_filters_as_kymatio_exposes_them(kwargs):
    """``psi`` (list of dicts 'levels', 'j', 'theta') and ``phi`` (dict 'levels', 'j') on the
    padded grid; Kymatio's levels are float32 arrays, compared to 1e-6 of their peak."""
    K, S = k2d(**kwargs), Scattering2D(**kwargs)
    assert isinstance(S.psi, list) and len(S.psi) == len(K.psi) and isinstance(S.phi, dict)
    pairs = [("phi", S.phi, K.phi)] + [(f"psi[{n}]", o, k) for n, (o, k) in enumerate(zip(S.psi, K.psi))]
    for where, o, k in pairs:
        assert set(o) >= set(k), f"{where}: keys {set(o)}, Kymatio's {set(k)}"
        for key in set(k) - {"levels"}:
            assert o[key] == k[key], f"{where}[{key!r}]"
        assert len(o["levels"]) == len(k["levels"]), f"{where}: {len(o['levels'])} levels"
        for lv, (a, b) in enumerate(zip(o["levels"], k["levels"])):
            a, b = to_np(a), np.asarray(b)
            assert a.shape == b.shape, f"{where}['levels'][{lv}] shape {a.shape}, expected {b.shape}"
            assert np.abs(a - b).max() <= 1e-6 * np.abs(b).max(), f"{where}['levels'][{lv}]"


def test_1d_output_size_and_meta_as_kymatio():
    """Kymatio 0.3's values for J=5, N=256, Q=1 (see test_1d_matches_kymatio)."""
    S = ours1d(5, N1)
    assert S.output_size() == 19 and S.output_size(detail=True) == [1, 6, 12]
    meta = S.meta()
    assert meta["order"].shape == (19,) and meta["j"].shape == (19, 2)
    assert meta["key"][:3] == [(), (0,), (1,)] and meta["key"][-1] == (4, 5)
    np.testing.assert_array_equal(meta["j"][:2], [[np.nan, np.nan], [0, np.nan]])
    S = ours1d(5, N1, max_order=1)
    assert S.output_size(detail=True) == [1, 6]
    assert S.meta()["j"].shape == (7, 1) and S.meta()["xi"].shape == (7, 1)


@pytest.mark.parametrize("kwargs", CONFIGS_1D, ids=_ids(CONFIGS_1D))
def test_1d_output_size_and_meta_describe_the_output(kwargs):
    N = kwargs["shape"] if isinstance(kwargs["shape"], int) else kwargs["shape"][0]
    S = ours1d(**kwargs)
    assert_1d_info_consistent(S, S(signal(2, N)))


def test_2d_meta_describes_the_output():
    """Kymatio 0.3's Scattering2D has no meta(); ours must describe its own output."""
    for max_order in (1, 2):
        S = Scattering2D(2, SHAPE2, L=4, max_order=max_order, out_type="list")
        out, meta = S(image(*SHAPE2)), S.meta()
        assert len(meta["order"]) == len(out)
        for c, path in enumerate(out):
            order = len(path["j"])
            assert meta["order"][c] == order
            assert tuple(int(v) for v in meta["j"][c][:order]) == path["j"]
            assert tuple(int(v) for v in meta["theta"][c][:order]) == path["theta"]


# ====================================================== 4. attributes changed after construction

# (attribute, new value, constructor kwargs, kwargs of a fresh network that gives the same output)
RUNTIME_1D = [
    ("max_order", 1, dict(), dict(max_order=1)),
    ("max_order", 2, dict(max_order=1), dict()),
    ("out_type", "list", dict(), dict(out_type="list")),
    ("out_type", "dict", dict(), dict(out_type="dict")),
    ("out_type", "array", dict(out_type="dict"), dict()),
    ("average", False, dict(out_type="list"), dict(T=0, out_type="list")),
    ("average", True, dict(T=0, out_type="list"), dict(out_type="list")),
    ("average", False, dict(T=16, out_type="dict"), dict(T=0, out_type="dict")),
    ("oversampling", 1, dict(), dict(oversampling=1)),
    ("oversampling", 2, dict(T=16), dict(T=16, oversampling=2)),
    ("oversampling", 0, dict(oversampling=2), dict()),
]
RUNTIME_2D = [
    ("max_order", 1, dict(), dict(max_order=1)),
    ("max_order", 2, dict(max_order=1), dict()),
    ("out_type", "list", dict(), dict(out_type="list")),
    ("out_type", "array", dict(out_type="list"), dict()),
]


def _runtime_ids(cases):
    return [f"{a}={v!r} from {_ids([b])[0] or 'default'}" for a, v, b, _ in cases]


@pytest.mark.parametrize("attr,value,before,fresh", RUNTIME_1D, ids=_runtime_ids(RUNTIME_1D))
def test_1d_runtime_attribute_takes_effect(attr, value, before, fresh):
    """Kymatio reads these at every call: the next output is that of a network built with the
    new value, and output_size()/meta() follow."""
    x = signal(2, N1)
    S = ours1d(5, N1, **before)
    S(x)
    setattr(S, attr, value)
    assert getattr(S, attr) == value
    out = S(x)
    ref_net = ours1d(5, N1, **fresh)
    assert_same_output(out, ref_net(x), tol=1e-6)
    assert S.output_size(detail=True) == ref_net.output_size(detail=True)
    assert_meta_equal(S.meta(), ref_net.meta())
    assert_1d_info_consistent(S, out)


@needs_kymatio
@pytest.mark.parametrize("attr,value,before,fresh", RUNTIME_1D, ids=_runtime_ids(RUNTIME_1D))
def test_1d_runtime_attribute_matches_kymatio(attr, value, before, fresh):
    x = signal(2, N1)
    K, S = k1d(5, N1, **before), ours1d(5, N1, **before)
    K(x), S(x)
    setattr(K, attr, value)
    setattr(S, attr, value)
    assert_same_output(S(x), K(x))
    assert S.output_size() == K.output_size()
    assert S.output_size(detail=True) == K.output_size(detail=True)
    assert_meta_equal(S.meta(), K.meta())


@pytest.mark.parametrize("attr,value,before,fresh", RUNTIME_2D, ids=_runtime_ids(RUNTIME_2D))
def test_2d_runtime_attribute_takes_effect(attr, value, before, fresh):
    y = image(2, *SHAPE2)
    S = Scattering2D(2, SHAPE2, **before)
    S(y)
    setattr(S, attr, value)
    assert getattr(S, attr) == value
    assert_same_output(S(y), Scattering2D(2, SHAPE2, **fresh)(y), tol=1e-6)
    if hasattr(S, "meta"):
        assert len(S.meta()["order"]) == len(Scattering2D(2, SHAPE2, **fresh).meta()["order"])


@needs_kymatio
@pytest.mark.parametrize("attr,value,before,fresh", RUNTIME_2D, ids=_runtime_ids(RUNTIME_2D))
def test_2d_runtime_attribute_matches_kymatio(attr, value, before, fresh):
    y = image(2, *SHAPE2)
    K, S = k2d(2, SHAPE2, **before), Scattering2D(2, SHAPE2, **before)
    K(y), S(y)
    setattr(K, attr, value)
    setattr(S, attr, value)
    assert_same_output(S(y), K(y))


def _set_then_call(S, attr, value, inp):
    setattr(S, attr, value)
    return S(inp)


BAD_RUNTIME_1D = [("out_type", "foo", dict(), (ValueError,)),
                  ("average", False, dict(), (ValueError,)),   # with out_type='array'
                  ("oversampling", -1, dict(), (ValueError,)),
                  ("oversampling", 1.5, dict(), (ValueError,)),
                  ("max_order", 3, dict(), (ValueError,))]     # Kymatio: silently orders 0-1
BAD_RUNTIME_2D = [("out_type", "dict", dict(), (RuntimeError, ValueError)),
                  ("out_type", "foo", dict(), (RuntimeError, ValueError)),
                  ("max_order", 3, dict(), (ValueError,))]     # Kymatio: silently orders 0-2


@pytest.mark.parametrize("attr,value,before,types", BAD_RUNTIME_1D,
                         ids=[f"{a}={v!r}" for a, v, _, _ in BAD_RUNTIME_1D])
def test_1d_bad_runtime_value_raises(attr, value, before, types):
    """On assignment or at the next call (Kymatio: at the call)."""
    S = ours1d(5, N1, **before)
    assert_raises(types, lambda: _set_then_call(S, attr, value, signal(N1)))


@pytest.mark.parametrize("attr,value,before,types", BAD_RUNTIME_2D,
                         ids=[f"{a}={v!r}" for a, v, _, _ in BAD_RUNTIME_2D])
def test_2d_bad_runtime_value_raises(attr, value, before, types):
    S = Scattering2D(2, SHAPE2, **before)
    assert_raises(types, lambda: _set_then_call(S, attr, value, image(*SHAPE2)))


@needs_kymatio
def test_kymatio_bad_runtime_values_raise_at_call():
    x, y = signal(N1), image(*SHAPE2)
    for attr, value, before, types in BAD_RUNTIME_1D[:4]:
        K = k1d(5, N1, **before)
        setattr(K, attr, value)
        assert_raises(types, lambda: K(x))
    for attr, value, before, _ in BAD_RUNTIME_2D[:2]:
        K = k2d(2, SHAPE2, **before)
        setattr(K, attr, value)
        assert_raises((RuntimeError,), lambda: K(y))


# Attributes Kymatio freezes at construction (it then silently ignores a new value, or computes
# garbage): (attribute, new value, kwargs of a fresh network built with it, new input shape)
FROZEN_1D = [
    ("J", 3, dict(J=3, shape=N1), (N1,)),
    ("Q", 8, dict(J=5, shape=N1, Q=8), (N1,)),
    ("Q", (2, 2), dict(J=5, shape=N1, Q=(2, 2)), (N1,)),
    ("T", 16, dict(J=5, shape=N1, T=16), (N1,)),
    ("shape", 512, dict(J=5, shape=512), (512,)),
    ("shape", (512,), dict(J=5, shape=512), (512,)),
    ("N", 512, dict(J=5, shape=512), (512,)),
]
FROZEN_2D = [
    ("J", 3, dict(J=3, shape=SHAPE2), SHAPE2),
    ("J", 1, dict(J=1, shape=SHAPE2), SHAPE2),
    ("L", 4, dict(J=2, shape=SHAPE2, L=4), SHAPE2),
    ("shape", (32, 48), dict(J=2, shape=(32, 48)), (32, 48)),
    ("pre_pad", True, dict(J=2, shape=SHAPE2, pre_pad=True), padded_2d(SHAPE2, 2)),
    ("M", 48, dict(J=2, shape=(48, 32)), (48, 32)),
    ("N", 48, dict(J=2, shape=(32, 48)), (32, 48)),
]


def _assert_rebuilt_or_raised(S, fresh, attr, value, inp):
    try:
        setattr(S, attr, value)
    except Exception:  # noqa: BLE001 - raising on assignment is one of the two accepted outcomes
        return
    assert getattr(S, attr) == getattr(fresh, attr), \
        f"{attr} = {value!r} was accepted but reads back {getattr(S, attr)!r}"
    out = S(inp)
    assert_same_output(out, fresh(inp), tol=1e-6)
    return out


@pytest.mark.parametrize("attr,value,fresh,shape", FROZEN_1D, ids=[f"{a}={v!r}" for a, v, _, _ in FROZEN_1D])
def test_1d_frozen_attribute_rebuilds_or_raises(attr, value, fresh, shape):
    """Kymatio ignores these after construction (its output_size() and meta() then disagree
    with its output for J and Q); ours either rebuild or raise on assignment."""
    S = ours1d(5, N1)
    S(signal(N1))
    fresh = ours1d(**fresh)
    out = _assert_rebuilt_or_raised(S, fresh, attr, value, signal(2, *shape))
    if out is not None:
        assert S.output_size(detail=True) == fresh.output_size(detail=True)
        assert_meta_equal(S.meta(), fresh.meta())
        assert_1d_info_consistent(S, out)


@pytest.mark.parametrize("attr,value,fresh,shape", FROZEN_2D, ids=[f"{a}={v!r}" for a, v, _, _ in FROZEN_2D])
def test_2d_frozen_attribute_rebuilds_or_raises(attr, value, fresh, shape):
    """Kymatio: L ignored, J gives wrong coefficients, shape and pre_pad raise at the call."""
    S = Scattering2D(2, SHAPE2)
    S(image(*SHAPE2))
    _assert_rebuilt_or_raised(S, Scattering2D(**fresh), attr, value, image(2, *shape))


# ================================================================================ 5. errors

@pytest.mark.parametrize("length", [300, 200, 128, 512, 255])
def test_1d_wrong_length_raises_runtime_and_value_error(length):
    """Kymatio: RuntimeError ('The filters are not compatible for multiplication'), or
    ValueError for a signal shorter than the padding."""
    S = ours1d(5, N1)
    assert_raises((RuntimeError, ValueError), lambda: S(signal(length)))
    assert_raises((RuntimeError, ValueError), lambda: S(signal(2, length)))


@needs_kymatio
@pytest.mark.parametrize("length", [300, 200, 128, 512, 255])
def test_kymatio_wrong_length_raises(length):
    K = k1d(5, N1)
    e = assert_raises((Exception,), lambda: K(signal(length)))
    assert isinstance(e, (RuntimeError, ValueError))


def test_1d_zero_dimensional_input_raises_value_error():
    assert_raises((ValueError,), lambda: ours1d(5, N1)(torch.tensor(1.0)))


@pytest.mark.parametrize("J", [9, 12])
def test_1d_J_too_large_for_the_length_raises_value_error(J):
    """2**J > N: Kymatio raises ValueError for J=12, N=256, and for J=9 returns coefficients of
    length 0 (its T defaults to 2**J, which it would refuse as T > N)."""
    assert_raises((ValueError,), lambda: ours1d(J, N1)(signal(N1)))


def test_2d_J_too_large_raises_runtime_and_value_error():
    """Kymatio: RuntimeError ('The smallest dimension should be larger than 2^J') at construction."""
    assert_raises((RuntimeError, ValueError), lambda: Scattering2D(6, SHAPE2))
    assert_raises((RuntimeError, ValueError), lambda: Scattering2D(5, (32, 16)))
    assert Scattering2D(5, SHAPE2)(image(*SHAPE2)).shape == (1 + 5 * 8 + 64 * 10, 1, 1)


@pytest.mark.parametrize("size,pre_pad", [((32, 31), False), ((31, 32), False), ((40, 40), False),
                                          ((32, 32), True), ((40, 41), True)])
def test_2d_wrong_spatial_size_raises_runtime_and_value_error(size, pre_pad):
    """Kymatio: RuntimeError ('Tensor must be of spatial size (32,32)' / 'Padded tensor ...')."""
    S = Scattering2D(2, SHAPE2, pre_pad=pre_pad)
    assert_raises((RuntimeError, ValueError), lambda: S(image(2, *size)))


@pytest.mark.parametrize("x", [torch.rand(32), torch.tensor(0.5)], ids=["1-d", "0-d"])
def test_2d_too_few_dimensions_raises_runtime_and_value_error(x):
    """Kymatio: RuntimeError ('Input tensor must have at least two dimensions')."""
    assert_raises((RuntimeError, ValueError), lambda: Scattering2D(2, SHAPE2)(x))


def test_none_input_raises_type_error():
    """Kymatio: TypeError ('The input should be not empty')."""
    assert_raises((TypeError,), lambda: ours1d(5, N1)(None))
    assert_raises((TypeError,), lambda: Scattering2D(2, SHAPE2)(None))


def _other_precision_input(S, inp, twin):
    """Input of the other precision than the network's: Kymatio raises TypeError ('Input and
    filter must be of the same dtype'). Ours either does the same or (a documented difference)
    computes in the input's dtype: then the coefficients are those of ``twin``, a network of
    that precision."""
    try:
        out = S(inp)
    except TypeError:
        return
    assert out.dtype == inp.dtype, f"{inp.dtype} input gave {out.dtype} coefficients"
    torch.testing.assert_close(out, twin(inp))


def test_input_of_the_other_precision():
    x, y = signal(2, N1), image(2, *SHAPE2)
    for make, inp in ((lambda: ours1d(5, N1), x), (lambda: Scattering2D(2, SHAPE2), y)):
        _other_precision_input(make(), inp.double(), make().double())
        _other_precision_input(make().double(), inp, make())


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.complex64])
def test_integer_or_complex_input_raises_type_and_runtime_error(dtype):
    """Kymatio: RuntimeError (from torch.view_as_complex); TypeError is what the condition is."""
    assert_raises((TypeError, RuntimeError), lambda: ours1d(5, N1)(torch.ones(N1, dtype=dtype)))
    assert_raises((TypeError, RuntimeError), lambda: Scattering2D(2, SHAPE2)(torch.ones(SHAPE2, dtype=dtype)))


@needs_kymatio
def test_kymatio_error_types():
    """(Oracle) the error types the tests above hold ours to."""
    K1, K2 = k1d(5, N1), k2d(2, SHAPE2)
    assert_raises((ValueError,), lambda: K1(torch.tensor(1.0)))
    assert_raises((ValueError,), lambda: k1d(12, N1))
    assert k1d(9, N1)(signal(N1)).shape == (53, 0)
    assert_raises((RuntimeError,), lambda: k2d(6, SHAPE2))
    assert_raises((RuntimeError,), lambda: K2(image(32, 31)))
    assert_raises((RuntimeError,), lambda: k2d(2, SHAPE2, pre_pad=True)(image(*SHAPE2)))
    assert_raises((RuntimeError,), lambda: K2(image(32)))
    assert_raises((TypeError,), lambda: K1(None))
    assert_raises((TypeError,), lambda: K2(None))
    assert_raises((TypeError,), lambda: K1(signal(N1, dtype=torch.float64)))
    assert_raises((TypeError,), lambda: K2(image(*SHAPE2, dtype=torch.float64)))
    for dtype in (torch.int64, torch.complex64):
        assert_raises((RuntimeError,), lambda: K1(torch.ones(N1, dtype=dtype)))
        assert_raises((RuntimeError,), lambda: K2(torch.ones(SHAPE2, dtype=dtype)))
    assert_raises((TypeError,), lambda: k2d(2.0, SHAPE2))
    assert_raises((TypeError,), lambda: k2d(2, SHAPE2, L=4.0))
    assert_raises((TypeError,), lambda: k2d(2, 32))
    assert_raises((ValueError,), lambda: k2d(2, (32, 32, 32)))
    assert_raises((ValueError,), lambda: k2d(2, (32,)))
    for shape in ((N1, N1), float(N1), [N1]):
        assert_raises((ValueError,), lambda: k1d(5, shape))
    for kwargs in (dict(oversampling=-1), dict(oversampling=1.5), dict(out_type="foo"),
                   dict(T=0, out_type="array")):
        k1d(5, N1, **kwargs)                                    # Kymatio's constructor accepts them
        assert_raises((ValueError,), lambda: k1d(5, N1, **kwargs)(signal(N1)))
    k2d(2, SHAPE2, out_type="dict")
    assert_raises((RuntimeError,), lambda: k2d(2, SHAPE2, out_type="dict")(image(*SHAPE2)))


# ============================================================================ 6. as a module

def test_modules_move_like_kymatios():
    x, y = signal(2, N1), image(2, *SHAPE2)
    for S, inp in ((ours1d(5, N1), x), (Scattering2D(2, SHAPE2), y)):
        assert isinstance(S, torch.nn.Module)
        assert list(S.parameters()) == []
        ref = S(inp)
        assert S.cpu() is S and S.to("cpu") is S and S.to(torch.device("cpu")) is S
        torch.testing.assert_close(S(inp), ref, rtol=0, atol=0)
        assert S.train() is S and S.eval() is S
        torch.testing.assert_close(torch.nn.Sequential(S, torch.nn.Flatten())(inp), ref.flatten(1),
                                   rtol=0, atol=0)
        torch.testing.assert_close(copy.deepcopy(S)(inp), ref, rtol=0, atol=0)


def test_double_precision():
    """``.double()`` (or ``.to(torch.float64)``) then float64 input gives float64 coefficients,
    as Kymatio's; ``.float()`` goes back. (Input of the other precision: see
    test_input_of_the_other_precision.)"""
    x, y = signal(2, N1), image(2, *SHAPE2)
    for S, inp in ((ours1d(5, N1), x), (Scattering2D(2, SHAPE2), y)):
        ref = S(inp)
        assert S.double() is S
        out = S(inp.double())
        assert out.dtype == torch.float64
        assert_same_output(out.float(), ref)
        assert S.float() is S
        torch.testing.assert_close(S(inp), ref)
        assert S.to(torch.float64)(inp.double()).dtype == torch.float64


@needs_kymatio
def test_double_precision_matches_kymatio():
    x, y = signal(2, N1, dtype=torch.float64), image(2, *SHAPE2, dtype=torch.float64)
    assert_same_output(ours1d(5, N1).double()(x), k1d(5, N1).double()(x))
    assert_same_output(Scattering2D(2, SHAPE2).double()(y), k2d(2, SHAPE2).double()(y))
    assert_raises((TypeError,), lambda: k1d(5, N1).double()(x.float()))


@needs_cuda
def test_cuda():
    """``.cuda()``/``.to('cuda')``; input on the other device: TypeError (Kymatio's cdgmm:
    'Input must be on GPU.' / 'Input must be on CPU.')."""
    x, y = signal(2, N1), image(2, *SHAPE2)
    for make, inp in ((lambda: ours1d(5, N1), x), (lambda: Scattering2D(2, SHAPE2), y)):
        ref = make()(inp)
        S = make().cuda()
        out = S(inp.cuda())
        assert out.device.type == "cuda"
        assert_same_output(out.cpu(), ref)
        assert_same_output(make().to("cuda")(inp.cuda()).cpu(), ref)
        assert_raises((TypeError,), lambda: S(inp))
        assert_raises((TypeError,), lambda: make()(inp.cuda()))
        assert_same_output(S.cpu()(inp), ref)


@needs_kymatio
def test_state_dict_saved_with_kymatio_loads():
    """A model saved with Kymatio's network inside (its filters are persistent buffers
    'tensor0', 'tensor1', ...) loads into the same model built with ours, strictly."""
    for make_k, make_s, n_out in ((lambda: k1d(5, N1), lambda: ours1d(5, N1), 19 * 8),
                                  (lambda: k2d(2, SHAPE2), lambda: Scattering2D(2, SHAPE2), 81 * 64)):
        saved = torch.nn.Sequential(make_k(), torch.nn.Flatten(), torch.nn.Linear(n_out, 3)).state_dict()
        model = torch.nn.Sequential(make_s(), torch.nn.Flatten(), torch.nn.Linear(n_out, 3))
        model.load_state_dict(saved)
        torch.testing.assert_close(model[2].weight, saved["2.weight"])


def test_non_contiguous_input_accepted():
    """Kymatio's forward raises RuntimeError ('Tensors must be contiguous'); ours computes."""
    x = signal(N1, 2)[:, 0]
    y = image(*SHAPE2).t()
    assert not x.is_contiguous() and not y.is_contiguous()
    torch.testing.assert_close(ours1d(5, N1)(x), ours1d(5, N1)(x.contiguous()), rtol=0, atol=0)
    torch.testing.assert_close(Scattering2D(2, SHAPE2)(y), Scattering2D(2, SHAPE2)(y.contiguous()),
                               rtol=0, atol=0)


def test_numpy_input_gives_numpy_output():
    """An extension (Kymatio's torch frontends raise AttributeError on NumPy input)."""
    x, y = signal(2, N1), image(2, *SHAPE2)
    for S, inp in ((ours1d(5, N1), x), (Scattering2D(2, SHAPE2), y)):
        out = S(inp.numpy())
        assert isinstance(out, np.ndarray)
        np.testing.assert_allclose(out, to_np(S(inp)), rtol=0, atol=0)


def test_non_finite_input():
    """Kymatio returns NaN coefficients; ours raises ValueError by default (``check_input``),
    and with ``check_input=False`` returns NaN coefficients as Kymatio."""
    x = signal(N1)
    x[10] = float("nan")
    y = image(*SHAPE2)
    y[3, 3] = float("inf")
    for make, inp in ((lambda **k: ours1d(5, N1, **k), x), (lambda **k: Scattering2D(2, SHAPE2, **k), y)):
        try:
            out = make()(inp)
        except ValueError:
            pass
        else:
            assert not torch.isfinite(out).all()
        assert not torch.isfinite(make(check_input=False)(inp)).all()
