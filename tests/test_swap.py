"""`actlab.swap`: replacing activations in arbitrary module trees, with and without torch.fx."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.classic.terelu import TERELU
from actlab.swap import swap


# A torchvision-style ResNet (torchvision does not import here): BasicBlock reuses one
# nn.ReLU(inplace=True) twice, as torchvision's does.
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, widths=(8, 16, 32), num_classes: int = 5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            layers.append(nn.Sequential(BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w)))
            cin = w
        self.layer1, self.layer2, self.layer3 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(6, 6), nn.Linear(6, 3)

    def forward(self, x):
        h = F.relu(self.a(x))
        h = torch.tanh(h) + torch.relu(h) + h.relu()
        return torch.sigmoid(self.b(h))


def _count(model: nn.Module, cls: type) -> int:
    return sum(isinstance(m, cls) for m in model.modules())


def test_resnet_every_relu_replaced_runs_forward_backward():
    net = ResNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = swap(net, nn.ReLU, "gelu")
    # 1 stem ReLU + 6 blocks each with one shared ReLU instance.
    assert len(result) == 7
    assert _count(result.model, nn.ReLU) == 0 and _count(result.model, nn.GELU) == 7
    block = result.model.layer1[0]
    assert [r for r in result.replaced if r.name == "layer1.0.relu"][0].kind == "module"
    assert isinstance(block.relu, nn.GELU)
    out = result.model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 5) and result.model.conv1.weight.grad is not None
    # The original is intact.
    assert _count(net, nn.ReLU) == 7 and _count(net, nn.GELU) == 0
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_per_channel_learnable_replacement_infers_channels_from_sample():
    net = ResNet()
    result = swap(net, "relu", "terelu", per_channel=True, sample_input=torch.randn(1, 3, 32, 32))
    channels = {r.name: r.channels for r in result.replaced}
    assert channels == {
        "relu": 8,
        "layer1.0.relu": 8,
        "layer1.1.relu": 8,
        "layer2.0.relu": 16,
        "layer2.1.relu": 16,
        "layer3.0.relu": 32,
        "layer3.1.relu": 32,
    }
    assert result.model.layer3[1].relu.beta.shape == (32,)
    result.model.train()
    result.model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert result.model.layer2[0].relu.beta.grad.shape == (16,)


def test_per_channel_is_carried_over_from_a_prelu_without_a_sample():
    net = nn.Sequential(nn.Linear(4, 6), nn.PReLU(6), nn.Linear(6, 2), nn.PReLU())
    result = swap(net, nn.PReLU, "terelu", per_channel=True, sample_input=torch.randn(3, 4))
    assert [r.channels for r in result.replaced] == [6, 2]
    with pytest.raises(ValueError, match="`sample_input` must be given when per_channel=True"):
        swap(net, nn.PReLU, "terelu", per_channel=True)


def test_explicit_num_parameters_in_spec_wins():
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU())
    result = swap(net, nn.ReLU, "terelu(num_parameters=1)", per_channel=True, sample_input=torch.randn(2, 4))
    assert result.model[1].beta.shape == (1,)


def test_inplace_modifies_the_model_itself():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    result = swap(net, nn.ReLU, "tanh", inplace=True)
    assert result.model is net and isinstance(net[1], nn.Tanh)


def test_predicate_selects_by_module_path():
    net = ResNet()
    result = swap(net, lambda name, m: isinstance(m, nn.ReLU) and name.startswith("layer2"), "silu")
    assert sorted(r.name for r in result.replaced) == ["layer2.0.relu", "layer2.1.relu"]
    assert isinstance(result.model.layer1[0].relu, nn.ReLU)


def test_instance_is_copied_per_replacement_and_dtype_follows_model():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU()).double()
    result = swap(net, nn.ReLU, TERELU(mu=2.0))
    assert result.model[1] is not result.model[3]
    assert result.model[1].mu == 2.0 and result.model[1].beta.dtype == torch.float64


def test_trace_rewrites_functional_calls():
    torch.manual_seed(0)
    net = Functional()
    x = torch.randn(5, 6)
    ref = net(x)
    # Swapping relu for relu changes nothing numerically: the rewrite is faithful.
    same = swap(net, "relu", "relu", trace=True)
    assert len(same) == 3 and {r.kind for r in same.replaced} == {"functional"}
    torch.testing.assert_close(same.model(x), ref)
    result = swap(net, ["relu", "tanh"], "hardtanh", trace=True)
    assert sorted(r.old for r in result.replaced) == [
        "F.relu(...) [relu]",
        "torch.relu(...) [relu]",
        "torch.tanh(...) [tanh]",
        "x.relu() [relu]",
    ]
    code = result.model.code
    assert "relu" not in code.replace("swapped_relu", "") and "tanh(" not in code.replace("swapped_tanh", "")
    h = F.hardtanh(net.a(x))
    expected = torch.sigmoid(net.b(F.hardtanh(h) + F.hardtanh(h) + F.hardtanh(h)))
    torch.testing.assert_close(result.model(x), expected)
    result.model(x).sum().backward()
    # Without trace, functional calls are out of reach: nothing is replaced.
    assert len(swap(net, "relu", "gelu")) == 0


def test_trace_per_channel_uses_sample_input():
    result = swap(Functional(), "sigmoid", "terelu", trace=True, per_channel=True, sample_input=torch.randn(2, 6))
    assert [r.channels for r in result.replaced] == [3]


def test_unknown_new_spec_fails_before_any_change():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(ValueError, match=r"unknown activation 'terelo' \(did you mean 'terelu'"):
        swap(net, nn.ReLU, "terelo", inplace=True)
    with pytest.raises(TypeError, match="terelu: .*accepted arguments"):
        swap(net, nn.ReLU, "terelu(nope=1)", inplace=True)
    assert isinstance(net[1], nn.ReLU)


def test_bad_old_and_untraceable_model_are_clear_errors():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        swap(net, "rellu", "gelu")
    with pytest.raises(TypeError, match="swap: `old` must be"):
        swap(net, 3, "gelu")

    class Dynamic(nn.Module):
        def forward(self, x):
            return F.relu(x) if x.sum() > 0 else x

    with pytest.raises(TypeError, match="`model` must be traceable by torch.fx"):
        swap(Dynamic(), "relu", "gelu", trace=True, inplace=True)


def test_shared_module_with_different_channel_counts_is_rejected():
    act = nn.ReLU()
    net = nn.Sequential(nn.Linear(4, 6), act, nn.Linear(6, 3), act)
    with pytest.raises(ValueError, match="shared activations with different channel counts"):
        swap(net, nn.ReLU, "terelu", per_channel=True, sample_input=torch.randn(2, 4))
    result = swap(net, nn.ReLU, "gelu")
    assert len(result) == 1 and result.replaced[0].aliases == ("3",)
    assert result.model[1] is result.model[3]
