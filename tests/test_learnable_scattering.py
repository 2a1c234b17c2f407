"""Scattering2D(learnable=True): Kymatio's numbers at initialisation (both paths), gradients to
the wavelet parameters, filters refreshed after training for the fast path, save and load, bad
input (Gauthier et al., "Parametric Scattering Networks", CVPR 2022)."""
import pytest
import torch

from scatter import ParametricMorlet2D, Scattering2D, ScatteringError, padded_shape_2d


@pytest.fixture
def x():
    return torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_initialisation_gives_scattering2d(x, dtype, tol):
    x = x.to(dtype)
    reference = Scattering2D(2, (32, 32), L=8)(x)
    S = Scattering2D(2, (32, 32), L=8, learnable=True)
    with torch.no_grad():
        fast = S(x)                                   # the CPU engine, from the current filters
    trained_path = S(x)                               # filters made in torch, differentiably
    assert trained_path.requires_grad and not fast.requires_grad
    scale = reference.abs().max()
    assert float((fast - reference).abs().max() / scale) <= tol
    assert float((trained_path.detach() - reference).abs().max() / scale) <= tol
    assert [n for n, _ in S.named_parameters()] == [f"wavelets.{p}" for p in
                                                    ("angle", "xi", "sigma", "slant")]


def test_gradients_reach_the_wavelet_parameters():
    S = Scattering2D(1, (8, 8), L=2, max_order=1, learnable=True).double()
    x = torch.randn(1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    names = ("wavelets.xi", "wavelets.sigma")
    start = tuple(S.get_parameter(n).detach().clone().requires_grad_(True) for n in names)

    def scatter(*values):
        return torch.func.functional_call(S, dict(zip(names, values)), (x,))

    assert torch.autograd.gradcheck(scatter, start, eps=1e-6, atol=1e-6)


def test_trained_filters_reach_the_fast_path(x):
    S = Scattering2D(2, (32, 32), L=4, learnable=True)
    with torch.no_grad():
        before = S(x)
    optimiser = torch.optim.Adam(S.parameters(), lr=1e-2)
    for _ in range(2):
        optimiser.zero_grad()
        S(x).pow(2).mean().backward()
        optimiser.step()
    differentiable = S(x).detach()
    with torch.no_grad():
        fast = S(x)
    assert float((fast - before).abs().max()) > 1e-3             # the filters did change
    torch.testing.assert_close(fast, differentiable, rtol=1e-5, atol=1e-6)
    assert "float32" in S._engines                               # inference took the engine
    # save and load: the same trained network
    other = Scattering2D(2, (32, 32), L=4, learnable=True)
    other.load_state_dict(S.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(other(x), fast, rtol=0, atol=0)


def test_a_given_bank_and_bad_input():
    grid = padded_shape_2d((32, 32), 2)
    wavelets = ParametricMorlet2D(grid, 2, 6, init="random", seed=0)
    S = Scattering2D(2, (32, 32), learnable=wavelets)
    assert S.wavelets is wavelets and S(torch.zeros(1, 32, 32)).shape[1] == 1 + 2 * 6 + 36
    with pytest.raises(ScatteringError, match="padded grid"):
        Scattering2D(2, (32, 32), learnable=ParametricMorlet2D((32, 32), 2, 4))
    with pytest.raises(ScatteringError, match="not both"):
        Scattering2D(2, (32, 32), learnable=True, bank=lambda g: None)
    with pytest.raises(TypeError, match="learnable"):
        Scattering2D(2, (32, 32), learnable="yes")
    fixed = Scattering2D(2, (32, 32), L=4, learnable=True)
    fixed.learnable = False                                     # back to fixed Morlet filters
    assert list(fixed.parameters()) == []


@pytest.mark.slow
def test_compiled_training_step_and_inference():
    S = Scattering2D(1, (16, 16), L=2, max_order=1, learnable=True)
    x = torch.randn(2, 16, 16, generator=torch.Generator().manual_seed(2))
    compiled = torch.compile(S)
    y = compiled(x)
    y.pow(2).sum().backward()
    assert S.wavelets.xi.grad is not None and float(S.wavelets.xi.grad.abs().sum()) > 0
    torch.testing.assert_close(y.detach(), S(x).detach(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), y.detach(), rtol=1e-5, atol=1e-6)
