"""models.cnn: reference nets, fit (deterministic, history) and evaluate."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from scatter.models import CifarNet, ImageArrayDataset, LeNet, evaluate, fit


def blobs(n=96, size=28, channels=1, seed=0):
    """Two classes a small net separates at once: a bright top half or a bright bottom half."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.3 * torch.randn(n, channels, size, size, generator=g)
    half = size // 2
    x[y == 0, :, :half] += 1.0
    x[y == 1, :, half:] += 1.0
    return x, y


def test_nets_shapes_and_errors():
    assert LeNet()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert LeNet(n_classes=3, channels=(4, 8))(torch.zeros(1, 1, 28, 28)).shape == (1, 3)
    net = CifarNet(kernel_size=11, first_channels=8, width=8)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert net.features[0].kernel_size == (11, 11) and net.features[0].stride == (2, 2)
    with pytest.raises(ValueError, match=r"\(B, C, 28, 28\)"):
        LeNet()(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="kernel_size"):
        CifarNet(kernel_size=6)
    with pytest.raises(TypeError, match="n_classes"):
        CifarNet(n_classes=2.5)
    with pytest.raises(ValueError, match="first_channels"):
        CifarNet(first_channels=0)
    small = CifarNet(first_init_std=0.01).features[0].weight.detach()
    assert 0.008 < float(small.std()) < 0.012
    with pytest.raises(ValueError, match="first_init_std"):
        CifarNet(first_init_std=-1.0)


def tiny_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 5 * 5, 2))


def test_fit_is_deterministic_and_learns():
    x, y = blobs(size=12)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        net = tiny_net()
        history = fit(net, (x, y), epochs=3, batch_size=16, optimizer="adam", lr=0.01, seed=7,
                      progress=False)
        runs.append((history, [p.detach().clone() for p in net.parameters()]))
    assert runs[0][0]["loss"] == runs[1][0]["loss"]
    for a, b in zip(runs[0][1], runs[1][1]):
        assert torch.equal(a, b)
    assert history["accuracy"][-1] > 0.9
    assert set(history) == {"loss", "accuracy", "time"} and len(history["loss"]) == 3
    assert evaluate(net, (x, y))["accuracy"] > 0.9
    # A different seed shuffles differently.
    torch.manual_seed(3)
    net = tiny_net()
    other = fit(net, (x, y), epochs=3, batch_size=16, optimizer="adam", lr=0.01, seed=8,
                progress=False)
    assert other["loss"] != runs[0][0]["loss"]


def test_fit_restores_global_rng_and_takes_datasets():
    x, y = blobs(n=16, size=32, channels=3)
    net = CifarNet(n_classes=2, first_channels=4, width=4)
    state = torch.random.get_rng_state()
    dataset = ImageArrayDataset(x, y)
    history = fit(net, dataset, epochs=1, batch_size=8, optimizer="adam", lr=1e-3,
                  val_data=(x, y), progress=True)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert set(history) == {"loss", "accuracy", "time", "val_loss", "val_accuracy"}
    scores = evaluate(net, dataset, batch_size=5)
    assert scores["n"] == 16 and 0 <= scores["accuracy"] <= 1 and np.isfinite(scores["loss"])
    # A generic Dataset (no .tensors) goes through a DataLoader.
    generic = [(x[i], int(y[i])) for i in range(8)]

    class ListDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(generic)

        def __getitem__(self, i):
            return generic[i]

    fit(net, ListDataset(), epochs=1, batch_size=4,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.01), progress=False)


def test_fit_bad_input():
    x, y = blobs(n=8)
    net = LeNet(n_classes=2)
    with pytest.raises(ValueError, match="optimizer"):
        fit(net, (x, y), optimizer="lbfgs", progress=False)
    with pytest.raises(TypeError, match="model"):
        fit("net", (x, y))
    with pytest.raises(TypeError, match="data"):
        fit(net, x)
    with pytest.raises(ValueError, match="8 samples but y has 7"):
        fit(net, (x, y[:7]))
    with pytest.raises(ValueError, match="epochs"):
        fit(net, (x, y), epochs=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_fit_on_cuda():
    x, y = blobs(n=32)
    net = LeNet(n_classes=2)
    history = fit(net, (x, y), epochs=1, device="cuda", progress=False)
    assert next(net.parameters()).is_cuda and np.isfinite(history["loss"][0])
    assert evaluate(net, (x, y))["n"] == 32
