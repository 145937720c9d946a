"""LSTM/GRU with registered activations: equal to torch.nn with the same weights, noisy gates work."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actlab.noisy.output import NoisyHardSigmoid
from actlab.noisy.recurrent import GRU, LSTM


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize(("ours", "theirs"), [(LSTM, nn.LSTM), (GRU, nn.GRU)])
def test_defaults_equal_torch_nn_with_copied_weights(ours, theirs, batch_first):
    torch.manual_seed(0)
    ref = theirs(3, 6, num_layers=2, batch_first=batch_first).double()
    mine = ours(3, 6, num_layers=2, batch_first=batch_first).double()
    mine.load_state_dict(ref.state_dict())  # same names and layouts: strict load works
    x = torch.randn((4, 9, 3) if batch_first else (9, 4, 3), dtype=torch.float64)
    hx = torch.randn(2, 4, 6, dtype=torch.float64)
    state = (hx, torch.randn_like(hx)) if ours is LSTM else hx
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, h_a = mine(xa, state)
    out_b, h_b = ref(xb, state)
    torch.testing.assert_close(out_a, out_b, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(h_a, h_b, atol=1e-12, rtol=1e-12)
    (out_a.square().sum() + sum(t.sum() for t in (h_a if ours is LSTM else (h_a,)))).backward()
    (out_b.square().sum() + sum(t.sum() for t in (h_b if ours is LSTM else (h_b,)))).backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-12, rtol=1e-12)
    for (name, pa), pb in zip(mine.named_parameters(), ref.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, atol=1e-12, rtol=1e-12, msg=name)


def test_unbatched_input_matches_torch():
    torch.manual_seed(1)
    ref, mine = nn.LSTM(2, 4), LSTM(2, 4)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(5, 2)
    out_a, (h_a, c_a) = mine(x)
    out_b, (h_b, c_b) = ref(x)
    torch.testing.assert_close(out_a, out_b)
    torch.testing.assert_close(h_a, h_b) and torch.testing.assert_close(c_a, c_b)


def test_noisy_hard_sigmoid_gates_are_one_argument_away():
    torch.manual_seed(2)
    lstm = LSTM(3, 8, gate_act="noisy_hard_sigmoid(num_parameters=8, c=5.0)", cell_act="tanh", batch_first=True)
    gates = [m for m in lstm.modules() if isinstance(m, NoisyHardSigmoid)]
    assert len(gates) == 3 and len({id(g.p) for g in gates}) == 3  # i, f, o: one p each, per unit
    x = 4 * torch.randn(2, 6, 3)
    lstm.eval()
    assert torch.equal(lstm(x)[0], lstm(x)[0])  # eval: the expectation, deterministic
    lstm.train()
    torch.manual_seed(3)
    a = lstm(x)[0]
    torch.manual_seed(3)
    b = lstm(x)[0]
    assert torch.equal(a, b) and not torch.equal(a, lstm(x)[0])
    a.sum().backward()
    assert all(g.p.grad is not None and g.p.grad.abs().sum() > 0 for g in gates)


def test_errors():
    with pytest.raises(ValueError, match=r"LSTM: `hidden_size` must be an int >= 1, got 0"):
        LSTM(3, 0)
    with pytest.raises(TypeError, match=r"GRU: `gate_act/cell_act` must be a name, spec string or class"):
        GRU(3, 4, gate_act=nn.Sigmoid())
    with pytest.raises(ValueError, match=r"unknown activation 'noisy_hard_sigmiod'"):
        LSTM(3, 4, gate_act="noisy_hard_sigmiod")
    with pytest.raises(ValueError, match=r"LSTM: `input` must be of size 3 in its last dim, got 4"):
        LSTM(3, 4)(torch.zeros(5, 2, 4))
