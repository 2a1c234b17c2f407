"""Multi-layer CSC: the CNN forward pass is layered thresholding; ML-ISTA/ML-FISTA descend."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from scatter.models import MultiLayerCSC


def _net(method="thresholding", n=0, nonnegative=True, lam=0.05, seed=0):
    torch.manual_seed(seed)
    net = MultiLayerCSC([1, 8, 16], kernel_sizes=[5, 3], strides=[1, 2], method=method,
                        n_unfoldings=n, nonnegative=nonnegative).double()
    with torch.no_grad():
        for b in net.biases:
            b.copy_(-lam * (1 + torch.rand_like(b)))
    return net


def test_thresholding_is_conv_bias_relu_exactly():
    net = _net()
    cnn = nn.Sequential(nn.Conv2d(1, 8, 5, bias=True), nn.ReLU(),
                        nn.Conv2d(8, 16, 3, stride=2, bias=True), nn.ReLU()).double()
    with torch.no_grad():
        cnn[0].weight.copy_(net.weights[0]); cnn[0].bias.copy_(net.biases[0])
        cnn[2].weight.copy_(net.weights[1]); cnn[2].bias.copy_(net.biases[1])
    x = torch.randn(3, 1, 21, 19, dtype=torch.float64)
    assert torch.equal(net(x), cnn(x))
    for method in ("layered_bp", "ista", "fista"):      # zero unfoldings: the same CNN
        net.method, net.n_unfoldings = method, 0
        assert torch.equal(net(x), cnn(x))


def _objectives(net, x, n_max):
    vals = []
    with torch.no_grad():
        for n in range(n_max + 1):
            net.n_unfoldings = n
            vals.append(net.objective(x, net(x)).sum().item())
    return np.array(vals)


@pytest.mark.parametrize("seed", [0, 1])
def test_ml_ista_decreases_and_fista_is_faster(seed):
    x = torch.randn(2, 1, 20, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    ista = _objectives(_net("ista", nonnegative=False, lam=0.03, seed=seed), x, 25)
    fista = _objectives(_net("fista", nonnegative=False, lam=0.03, seed=seed), x, 25)
    assert np.all(np.diff(ista) < 0), ista
    assert np.all(fista[2:] < ista[2:]), (fista, ista)
    assert fista[-1] < 0.9 * ista[-1]


def test_layered_bp_improves_each_layer():
    net = _net("layered_bp", n=30)
    x = torch.randn(2, 1, 20, 20, dtype=torch.float64)
    with torch.no_grad():
        codes_bp = net(x, return_all=True)
        net.n_unfoldings = 0
        codes_ff = net(x, return_all=True)

    def layer_obj(i, target, g):
        lam = -net.biases[i][:, None, None]
        rec = net.synthesis(i, g, target.shape)
        return 0.5 * (target - rec).square().sum() + (lam * g.abs()).sum()

    with torch.no_grad():
        assert layer_obj(0, x, codes_bp[0]) < layer_obj(0, x, codes_ff[0])
        assert layer_obj(1, codes_bp[0], codes_bp[1]) < \
            layer_obj(1, codes_bp[0], net._threshold(1, net.analysis(1, codes_bp[0])))
    assert all(bool((c >= 0).all()) for c in codes_bp)


def test_unfolded_network_is_trainable():
    net = _net("fista", n=3)
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    net(x).square().sum().backward()
    assert all(w.grad is not None and torch.isfinite(w.grad).all() for w in net.weights)
    assert all(b.grad is not None for b in net.biases)


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        MultiLayerCSC([1, 4], method="admm")
    with pytest.raises(ValueError, match="kernel_sizes"):
        MultiLayerCSC([1, 4, 8], kernel_sizes=[3])
    with pytest.raises(ValueError, match="n_unfoldings"):
        MultiLayerCSC([1, 4], n_unfoldings=-1)
    with pytest.raises(ValueError, match="channels"):
        MultiLayerCSC([1])
    with pytest.raises(ValueError, match="step_sizes"):
        MultiLayerCSC([1, 4], step_sizes=-1.0)
    net = MultiLayerCSC([1, 4])
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        net(torch.randn(1, 3, 8, 8))
