"""ParametricMorlet2D: Morlet wavelets regenerated in torch from learnable parameters (Gauthier et
al., CVPR 2022): Kymatio's filters at the Kymatio initialisation, gradients to every parameter,
save and load, the random initialisation, bad input."""
import math

import numpy as np
import pytest
import torch

from scatter import ParametricMorlet2D
from scatter.filters import FilterBank, morlet_2d


@pytest.mark.parametrize("shape,J,L", [((32, 32), 2, 4), ((40, 40), 2, 8), ((64, 48), 3, 6),
                                       ((33, 47), 1, 3)])
def test_kymatio_initialisation_gives_morlet_2d(shape, J, L):
    bank = ParametricMorlet2D(shape, J, L)
    reference = morlet_2d(shape, J, L)
    psi = bank().detach().numpy()
    assert psi.shape == (J * L, *shape) and psi.dtype == np.float64
    np.testing.assert_allclose(psi, reference.psi, rtol=0, atol=1e-12 * np.abs(reference.psi).max())
    np.testing.assert_array_equal(bank.phi.numpy(), reference.phi)
    as_bank = bank.to_filter_bank()
    assert isinstance(as_bank, FilterBank)
    np.testing.assert_allclose(as_bank.meta["xi"], reference.meta["xi"], rtol=1e-15)
    np.testing.assert_allclose(as_bank.littlewood_paley(), reference.littlewood_paley(), atol=1e-12)


def test_gradients_reach_every_parameter():
    bank = ParametricMorlet2D((12, 12), J=1, L=2)
    names = ("angle", "xi", "sigma", "slant")
    params = tuple(getattr(bank, n).detach().clone().requires_grad_(True) for n in names)
    from scatter.parametric_morlet import morlet_fourier

    # a random projection of the filters: its gradient in float64 against finite differences
    weights = torch.randn(2, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.autograd.gradcheck(lambda *p: (morlet_fourier((12, 12), *p) * weights).sum(),
                                    params, eps=1e-6, atol=1e-6)
    bank().pow(2).sum().backward()
    assert all(getattr(bank, n).grad is not None and getattr(bank, n).grad.abs().sum() > 0
               for n in names)
    assert [n for n, _ in bank.named_parameters()] == list(names)


def test_learned_subset_state_dict_and_random_initialisation():
    fixed_shape = ParametricMorlet2D((32, 32), 2, 4, learn=("angle", "xi"))
    assert [n for n, _ in fixed_shape.named_parameters()] == ["angle", "xi"]
    assert {"sigma", "slant", "phi"} <= set(fixed_shape.state_dict())
    a = ParametricMorlet2D((32, 32), 2, 4, init="random", seed=3)
    b = ParametricMorlet2D((32, 32), 2, 4, init="random", seed=3)
    c = ParametricMorlet2D((32, 32), 2, 4, init="random", seed=4)
    torch.testing.assert_close(a(), b())
    assert not torch.allclose(a(), c())
    # the paper's ranges
    assert 0 <= float(a.angle.min()) and float(a.angle.max()) < 2 * math.pi
    assert 0.5 <= float(a.xi.min()) and float(a.xi.max()) <= 1.0
    assert 1.0 <= float(a.sigma.min()) and float(a.sigma.max()) <= 5.0
    assert 0.5 <= float(a.slant.min()) and float(a.slant.max()) <= 1.5
    # the paper's tight-frame initialisation is Kymatio's parameters
    torch.testing.assert_close(ParametricMorlet2D((32, 32), 2, 4, init="tight-frame")(),
                               ParametricMorlet2D((32, 32), 2, 4)(), rtol=0, atol=0)
    # trained parameters survive a save and a load into a differently initialised bank
    with torch.no_grad():
        c.xi.mul_(1.1)
    d = ParametricMorlet2D((32, 32), 2, 4)
    d.load_state_dict(c.state_dict())
    torch.testing.assert_close(d(), c(), rtol=0, atol=0)


def test_float32_parameters_give_float32_filters():
    bank = ParametricMorlet2D((32, 32), 2, 4).float()
    psi = bank()
    assert psi.dtype == torch.float32
    np.testing.assert_allclose(psi.detach().numpy(), morlet_2d((32, 32), 2, 4).psi, atol=1e-5)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"init": "tight"}, ValueError, "init"),
    ({"learn": ("gamma",)}, ValueError, "learn"),
    ({"J": 0}, ValueError, "J"),
    ({"J": 6}, ValueError, "J"),
    ({"L": 2.5}, TypeError, "L"),
])
def test_bad_input(kwargs, error, match):
    args = {"shape": (32, 32), "J": 2, "L": 4, **kwargs}
    with pytest.raises(error, match=match):
        ParametricMorlet2D(**args)
