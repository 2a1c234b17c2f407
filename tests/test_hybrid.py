"""models.Hybrid: frozen scattering front-end + trainable head."""
from __future__ import annotations

import pytest
import torch

from scatter.filters import gabor_2d
from scatter.models import Hybrid, evaluate, fit
from scatter import Scattering2D, padded_shape_2d


@pytest.mark.parametrize("head", ["linear", "mlp", "resnet"])
def test_shapes_for_each_head(head):
    torch.manual_seed(0)
    model = Hybrid((32, 32), in_channels=3, n_classes=5, J=2, L=4, head=head, width=8,
                   hidden=16)
    # K = 1 + J L + L^2 J (J - 1) / 2 = 1 + 8 + 16 = 25 per colour channel, 8x8 maps.
    assert model.feature_shape == (75, 8, 8)
    x = torch.rand(3, 3, 32, 32)
    assert model.features(x).shape == (3, 75, 8, 8)
    assert model(x).shape == (3, 5)
    model.eval()
    assert torch.allclose(model(x), model.head(model.features(x)))


def test_grey_input_first_order_and_no_log():
    model = Hybrid((28, 28), in_channels=1, n_classes=2, J=2, L=8, max_order=1, log=False,
                   standardize=False, head="linear")
    x = torch.rand(2, 1, 28, 28)
    assert model.feature_shape == (17, 7, 7)
    s = model.scattering(x)[:, 0]
    assert torch.equal(model.features(x), s)  # no log, no reshaping beyond the channel merge


def test_other_banks_and_prebuilt_network():
    grid = padded_shape_2d((32, 32), 2)
    bank = gabor_2d(grid, [0.25, 0.125], 4, remove_dc=True)
    bank = bank.replace(meta={**bank.meta, "j": bank.meta["j"].astype(int)})  # banks are immutable
    model = Hybrid((32, 32), 1, 3, J=2, bank=bank, head="linear")
    assert model.scattering.bank is bank
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 3)
    net = Scattering2D(J=2, shape=(32, 32), L=4, max_order=1)
    model = Hybrid((32, 32), 2, 4, scattering=net, head="mlp", hidden=8)
    assert model.scattering is net and model.feature_shape == (2 * 9, 8, 8)
    assert model(torch.rand(2, 2, 32, 32)).shape == (2, 4)


def test_front_end_is_frozen():
    torch.manual_seed(0)
    model = Hybrid((16, 16), 1, 3, J=2, L=4, head="resnet", width=4)
    names = [n for n, _ in model.named_parameters()]
    assert names and all(n.startswith("head.") for n in names)
    assert not list(model.scattering.parameters())
    probe = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        before = model.scattering(probe).clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.rand(6, 1, 16, 16, requires_grad=True)
    for _ in range(2):
        opt.zero_grad()
        model(x).logsumexp(1).sum().backward()
        opt.step()
    # the filters are not parameters and training does not move them: same front-end output
    with torch.no_grad():
        assert torch.equal(model.scattering(probe), before)
    # Gradients do reach an input that asks for them (saliency, adversarial examples)...
    assert x.grad is not None and x.grad.abs().sum() > 0
    # ... and the front-end runs without autograd otherwise.
    assert not model.features(torch.rand(2, 1, 16, 16)).requires_grad
    # state_dict holds the head only (the filters are rebuilt from the parameters).
    assert all(k.startswith("head.") for k in model.state_dict())


def test_trains_and_loss_drops():
    # Two classes: vertical or horizontal stripes, at random phases and with noise.
    g = torch.Generator().manual_seed(0)
    n = 64
    y = torch.arange(n) % 2
    t = torch.arange(16, dtype=torch.float32)
    phase = torch.rand(n, 1, 1, generator=g) * 6.3
    wave = torch.sin(1.6 * t[None, :, None] + phase).expand(n, 16, 16).clone()
    x = torch.where(y[:, None, None] == 0, wave, wave.transpose(1, 2))
    x = (x + 0.5 * torch.randn(n, 16, 16, generator=g))[:, None]
    torch.manual_seed(1)
    model = Hybrid((16, 16), 1, 2, J=2, L=4, head="mlp", hidden=16)
    history = fit(model, (x, y), epochs=6, batch_size=16, optimizer="adam", lr=1e-2, seed=0,
                  progress=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert evaluate(model, (x, y))["accuracy"] > 0.9


def test_double_precision_and_device_moves():
    model = Hybrid((16, 16), 1, 2, J=1, L=2, head="linear").double()
    assert model(torch.rand(2, 1, 16, 16, dtype=torch.float64)).dtype == torch.float64


def test_bad_input():
    with pytest.raises(ValueError, match="head"):
        Hybrid((32, 32), head="transformer")
    with pytest.raises(ValueError, match="n_classes"):
        Hybrid((32, 32), n_classes=1)
    with pytest.raises(TypeError, match="in_channels"):
        Hybrid((32, 32), in_channels=1.5)
    with pytest.raises(ValueError, match="in_channels"):
        Hybrid((32, 32), in_channels=0)
    with pytest.raises(ValueError, match="shape"):
        Hybrid((32,))
    with pytest.raises(ValueError, match="width"):
        Hybrid((32, 32), width=0)
    with pytest.raises(ValueError, match="dropout"):
        Hybrid((32, 32), dropout=1.0)
    with pytest.raises(TypeError, match="bank"):
        Hybrid((32, 32), bank="morlet")
    with pytest.raises(TypeError, match="scattering"):
        Hybrid((32, 32), scattering=torch.nn.Identity())
    net = Scattering2D(J=2, shape=(32, 32), L=4)
    with pytest.raises(ValueError, match="shape"):
        Hybrid((28, 28), scattering=net)
    with pytest.raises(ValueError, match="bank"):
        Hybrid((32, 32), scattering=net, bank=lambda grid: None)
    model = Hybrid((32, 32), in_channels=3, J=2, L=4, head="linear")
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        model(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        model(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        model(torch.rand(2, 3, 28, 28))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        model([[0.0]])
