"""Filter-side defects: immutable banks, gabor_2d's count vs angles, the transforms' input policy."""
from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import torch

from scatter import Scattering2D, padded_shape_2d
from scatter.filters import (CurveletTransform, DWT1d, DWT2d, FilterBank, IDWT1d, IDWT2d,
                             curvelet_2d, gabor_2d, morlet_2d)


# ----------------------------------------------------------------------- 1. immutable banks
def _toy_bank():
    k = np.fft.fftfreq(16)
    psi = np.stack([np.exp(-(abs(k) - 0.25) ** 2 / 0.005), np.exp(-(abs(k) - 0.125) ** 2 / 0.002)])
    meta = {"j": np.array([0, 1]), "xi": np.array([0.25, 0.125])}
    return psi, np.exp(-k ** 2 / 0.001), meta


def test_bank_arrays_are_read_only():
    bank = morlet_2d((32, 32), J=2, L=4)
    for edit in (lambda: bank.psi.__setitem__(0, 0.0),
                 lambda: bank.psi.__imul__(2.0),
                 lambda: bank.phi.__setitem__((0, 0), 5.0),
                 lambda: bank.meta["j"].__setitem__(0, 3)):
        with pytest.raises(ValueError, match="read-only"):
            edit()


def test_bank_mappings_are_read_only():
    bank = morlet_2d((32, 32), J=2, L=4)
    with pytest.raises(TypeError):
        bank.meta["j"] = np.zeros(len(bank), dtype=int)
    with pytest.raises(TypeError):
        bank.params["J"] = 3
    with pytest.raises(TypeError):
        bank.phi_meta["j"] = 0
    assert bank.params["J"] == 2 and bank.phi_meta == {"j": 2, "sigma": 1.6, "xi": 0.0}


@pytest.mark.parametrize("name", ["psi", "phi", "meta", "name", "params", "phi_meta", "shape",
                                  "new_public"])
def test_bank_attribute_assignment_raises(name):
    bank = morlet_2d((32, 32), J=2, L=4)
    with pytest.raises(AttributeError, match=r"immutable.*replace\("):
        setattr(bank, name, None)
    with pytest.raises(AttributeError, match="immutable"):
        delattr(bank, name)


def test_bank_private_caches_stay_settable():
    bank = morlet_2d((32, 32), J=2, L=4)
    bank._my_cache = {"a": 1}
    bank.__dict__.setdefault("_prepared_for_networks", {})["k"] = 2
    assert bank._my_cache == {"a": 1} and bank._prepared_for_networks == {"k": 2}
    assert bank.to_torch()["psi"].dtype == torch.float32 and bank._torch_cache


def test_bank_copies_the_arrays_it_is_built_from():
    psi, phi, meta = _toy_bank()
    bank = FilterBank(psi, phi, meta, params={"widths": [0.005, 0.002]})
    before = (bank.psi.copy(), bank.phi.copy(), bank.meta["j"].copy())
    psi *= 10
    phi[:] = 0
    meta["j"][:] = 7
    np.testing.assert_array_equal(bank.psi, before[0])
    np.testing.assert_array_equal(bank.phi, before[1])
    np.testing.assert_array_equal(bank.meta["j"], before[2])
    assert psi.flags.writeable  # the caller's arrays are left as they were
    # even float64 input (which needs no conversion) is copied, and so is a list in params
    assert not np.shares_memory(bank.psi, psi)
    assert bank.params["widths"] == (0.005, 0.002)


def test_bank_to_torch_does_not_alias_the_bank():
    bank = FilterBank(*_toy_bank())  # contiguous float64: a tensor could share its memory
    weights = bank.to_torch(dtype=torch.float64)
    weights["psi"].zero_()  # (the docs say not to; it must still not reach the bank's design)
    assert np.abs(bank.psi).max() > 0.5


def test_bank_replace_and_select_build_new_banks():
    bank = curvelet_2d((64, 64), scales=3, angles=8)
    louder = bank.replace(psi=2 * bank.psi, name="louder")
    assert type(louder) is type(bank) and louder.name == "louder" and bank.name == "curvelet"
    np.testing.assert_array_equal(louder.psi, 2 * bank.psi)
    assert not louder.psi.flags.writeable
    with pytest.raises(TypeError, match="unknown argument"):
        bank.replace(psy=bank.psi)
    first = bank.select(bank.meta["j"] == 0)
    assert not first.meta["j"].flags.writeable and len(first) < len(bank)


def test_bank_pickles_and_deep_copies_frozen():
    bank = morlet_2d((32, 32), J=2, L=4)
    for other in (pickle.loads(pickle.dumps(bank)), copy.deepcopy(bank), copy.copy(bank)):
        np.testing.assert_array_equal(other.psi, bank.psi)
        assert other.params == bank.params and other.phi_meta == bank.phi_meta
        with pytest.raises(ValueError, match="read-only"):
            other.psi[0, 0, 0] = 1.0
        with pytest.raises(ValueError, match="read-only"):
            other.meta["theta"][0] = 1
        with pytest.raises(AttributeError, match="immutable"):
            other.psi = None


def test_scattering_after_attempted_bank_edits_is_unchanged():
    J, shape = 2, (16, 16)
    grid = padded_shape_2d(shape, J)
    source = morlet_2d(grid, J=J, L=4)
    psi = np.array(source.psi)   # the arrays a user builds a bank from
    phi = np.array(source.phi)
    bank = FilterBank(psi, phi, dict(source.meta), name="mine")
    x = torch.rand(2, *shape, dtype=torch.float64)
    before = Scattering2D(J, shape, L=4, bank=bank).double()(x)
    with pytest.raises(ValueError, match="read-only"):
        bank.psi[:] = 0
    with pytest.raises(ValueError, match="read-only"):
        bank.phi *= 3
    with pytest.raises(AttributeError, match="immutable"):
        bank.psi = np.zeros_like(psi)
    psi[:] = 0.0   # editing the source arrays must not reach the bank either
    phi *= 3
    after = Scattering2D(J, shape, L=4, bank=bank).double()(x)
    torch.testing.assert_close(after, before, rtol=0, atol=0)


# ----------------------------------------------------- 3. one input policy for the transforms
def _leaves(tree):
    """The tensors of a transform's output or input (a tensor, or nested lists of tensors)."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    return [leaf for sub in tree for leaf in _leaves(sub)]


def _map(tree, fn):
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    return [_map(sub, fn) for sub in tree]


def _cast(tree, real_dtype):
    """Real tensors to ``real_dtype``, complex ones to its complex counterpart."""
    complex_of = {torch.float32: torch.complex64, torch.float64: torch.complex128,
                  torch.float16: torch.complex32, torch.bfloat16: torch.complex32}
    return _map(tree, lambda t: t.to(complex_of[real_dtype] if t.is_complex() else real_dtype))


def _poison_last(tree, value):
    """A copy of ``tree`` whose last tensor has one entry set to ``value``."""
    tree = _map(tree, torch.clone)
    _leaves(tree)[-1].view(-1)[-1] = value
    return tree


_G = torch.Generator().manual_seed(7)
_X1 = torch.randn(2, 3, 32, dtype=torch.float64, generator=_G)
_X2 = torch.randn(2, 32, 32, dtype=torch.float64, generator=_G)


def _curvelet(check_input=True):
    return CurveletTransform((32, 32), 3, angles=8, check_input=check_input)


# name: (module from check_input, float64 input, name of the input parameter)
TRANSFORMS = {
    "CurveletTransform": (lambda ci: _curvelet(ci), lambda: _X2, "x"),
    "CurveletTransform.inverse": (lambda ci: _curvelet(ci).inverse, lambda: _curvelet()(_X2),
                                  "coeffs"),
    "DWT1d": (lambda ci: DWT1d("db2", 2, check_input=ci), lambda: _X1, "x"),
    "IDWT1d": (lambda ci: IDWT1d("db2", check_input=ci), lambda: DWT1d("db2", 2)(_X1), "coeffs"),
    "DWT2d": (lambda ci: DWT2d("sym4", 2, check_input=ci), lambda: _X2, "x"),
    "IDWT2d": (lambda ci: IDWT2d("sym4", check_input=ci), lambda: DWT2d("sym4", 2)(_X2),
               "coeffs"),
}
_IDS = list(TRANSFORMS)


@pytest.mark.parametrize("name", _IDS)
def test_transform_output_follows_input_dtype(name):
    make, data, _ = TRANSFORMS[name]
    transform = make(True)
    out64 = transform(_cast(data(), torch.float64))
    out32 = transform(_cast(data(), torch.float32))
    for ref, low in zip(_leaves(out64), _leaves(out32)):
        assert ref.dtype in (torch.float64, torch.complex128)
        assert low.dtype in (torch.float32, torch.complex64)
        assert low.shape == ref.shape
        scale = ref.abs().max().item()
        assert (low.to(ref.dtype) - ref).abs().max().item() <= 1e-5 * scale
    assert len(_leaves(out64)) == len(_leaves(out32))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("name", _IDS)
def test_transform_refuses_nan_and_inf_unless_told(name, value):
    make, data, arg = TRANSFORMS[name]
    bad = _poison_last(data(), value)
    pattern = r"^x contains NaN or inf" if arg == "x" else r"^coeffs\[[0-9\]\[]+ contains NaN or inf"
    with pytest.raises(ValueError, match=pattern):
        make(True)(bad)
    out = make(False)(bad)  # no check: the value goes through
    assert not all(bool(torch.isfinite(t).all()) for t in _leaves(out))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, torch.bool,
                                   torch.complex128])
@pytest.mark.parametrize("name", _IDS)
def test_transform_refuses_other_dtypes(name, dtype):
    make, data, arg = TRANSFORMS[name]
    if dtype == torch.complex128:
        if arg == "coeffs":
            pytest.skip("complex curvelet coefficients are the inverse's input")
        bad = _map(data(), lambda t: t.to(dtype))
    elif dtype in (torch.float16, torch.bfloat16):
        bad = _cast(data(), dtype)
    else:
        bad = _map(data(), lambda t: t.real.to(dtype))
    received = f"({dtype}|torch.complex32)" if dtype in (torch.float16, torch.bfloat16) else dtype
    with pytest.raises(TypeError, match=rf"^{arg}\b.*float32.*float64.*got {received}"):
        make(True)(bad)


@pytest.mark.parametrize("name", _IDS)
def test_transform_half_module_conversion_touches_nothing(name):
    make, data, _ = TRANSFORMS[name]
    transform = make(True)
    module = getattr(transform, "__self__", transform)  # the module of a bound inverse
    assert not list(module.buffers()) and not list(module.parameters())
    module.half()  # nothing floating to convert: the input check is what refuses half
    with pytest.raises(TypeError, match="half precision"):
        transform(_cast(data(), torch.float16))
    out = transform(_cast(data(), torch.float32))
    assert all(t.dtype in (torch.float32, torch.complex64) for t in _leaves(out))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", _IDS)
def test_transform_empty_batch(name, dtype):
    make, data, _ = TRANSFORMS[name]
    transform = make(True)
    full = transform(_cast(data(), dtype))
    empty_input = _map(_cast(data(), dtype), lambda t: t[:0])
    empty = transform(empty_input)
    assert len(_leaves(empty)) == len(_leaves(full))
    for e, f in zip(_leaves(empty), _leaves(full)):
        assert e.shape == (0,) + f.shape[1:] and e.dtype == f.dtype


def test_transform_check_input_is_a_bool():
    for make in (lambda: CurveletTransform((32, 32), 3, angles=8, check_input="no"),
                 lambda: DWT1d("haar", check_input=0), lambda: IDWT2d("haar", check_input=None)):
        with pytest.raises(TypeError, match="check_input"):
            make()


def test_inverse_refuses_mixed_dtypes():
    coeffs = DWT1d("db2", 2)(_X1)
    coeffs[1] = coeffs[1].float()
    with pytest.raises(TypeError, match=r"coeffs\[1\] has dtype torch.float32.*one dtype"):
        IDWT1d("db2")(coeffs)
