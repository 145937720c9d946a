"""Generic tests run for every registered activation, driven by its spec in tests/specs/."""

from __future__ import annotations

import io
import pickle

import pytest
import torch
from torch.func import functional_call

import actlab
from actlab.bench.ops import saved_tensor_bytes
from actlab.core.fused import FUSE_MIN_NUMEL
from specs import SPECS

NAMES = actlab.list_activations()
OURS = [n for n in NAMES if actlab.get_spec(n).family != "torch"]


def _spec(name):
    return SPECS[name]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _perturb_(module: torch.nn.Module) -> None:
    """Move every parameter away from its initial value, so round-trips are meaningful."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.rand_like(p))


def test_every_entry_has_a_spec_and_an_export():
    assert set(SPECS) == set(NAMES), "registered names and test specs differ"
    for name in OURS:
        entry = actlab.get_spec(name)
        assert entry.module.__name__ in actlab.nn.__all__, f"{name}: module not exported by actlab.nn"
        assert getattr(actlab.nn, entry.module.__name__) is entry.module
        assert entry.function.__name__ in actlab.functional.__all__, f"{name}: not exported by actlab.functional"
        assert getattr(actlab.functional, entry.function.__name__) is entry.function


@pytest.mark.parametrize("name", NAMES)
def test_reference_formula(name):
    spec = _spec(name)
    module = spec.build().double().eval()
    x = spec.grid()
    torch.testing.assert_close(module(x), spec.reference(x), atol=spec.atol, rtol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_gradients(name):
    spec = _spec(name)
    module = spec.build().double().eval()
    x = spec.sample((3, 4), gen=_gen()).requires_grad_(True)
    if spec.grad == "none":
        pytest.skip(f"{name}: spec declares no gradient check")
    if spec.grad == "ste":
        module(x).sum().backward()
        torch.testing.assert_close(x.grad, spec.ste_grad(x.detach(), module), atol=0, rtol=0)
        return
    # Inputs and trainable parameters together, through torch.func so parameters are inputs too.
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    params = [module.get_parameter(n).detach().clone().requires_grad_(True) for n in names]

    def f(x, *ps):
        return functional_call(module, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))
    if spec.smooth:
        assert torch.autograd.gradgradcheck(f, (x, *params))


@pytest.mark.parametrize("name", NAMES)
def test_functional_equals_module(name):
    spec = _spec(name)
    module = spec.build().double().eval()
    _perturb_(module)
    x = spec.sample((2, 5, 3), gen=_gen())
    torch.testing.assert_close(module(x), spec.call_functional(module, x), atol=0, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_compile_fullgraph_matches_eager(name):
    spec = _spec(name)
    torch._dynamo.reset()
    module = spec.build().eval()
    x = spec.sample((4, 6), torch.float32, gen=_gen()).requires_grad_(True)
    compiled = torch.compile(module, fullgraph=True, backend=spec.compile_backend)
    y_eager, y_comp = module(x), compiled(x)
    torch.testing.assert_close(y_comp, y_eager, atol=1e-5, rtol=1e-5)
    (g_eager,) = torch.autograd.grad(y_eager.sum(), x)
    (g_comp,) = torch.autograd.grad(y_comp.sum(), x)
    torch.testing.assert_close(g_comp, g_eager, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_and_pickle_round_trip(name):
    spec = _spec(name)
    module = spec.build().double().eval()
    _perturb_(module)
    x = spec.sample((3, 4), gen=_gen())
    fresh = spec.build().double().eval()
    fresh.load_state_dict(module.state_dict())
    torch.testing.assert_close(fresh(x), module(x), atol=0, rtol=0)
    buf = io.BytesIO()
    torch.save(module, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    torch.testing.assert_close(loaded(x), module(x), atol=0, rtol=0)
    torch.testing.assert_close(pickle.loads(pickle.dumps(module))(x), module(x), atol=0, rtol=0)
    assert repr(loaded) == repr(module)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("name", NAMES)
def test_dtype_and_shape_preserved(name, dtype):
    spec = _spec(name)
    module = spec.build().to(dtype).eval()
    x = spec.sample((2, 3, 4, 5), torch.float32, gen=_gen())
    y = module(x.to(dtype))
    assert y.dtype == dtype and y.shape == x.shape
    with torch.no_grad():
        expected = spec.build().eval()(x)
    scale = expected.abs().max().clamp(min=1.0)
    tol = spec.bf16_atol * scale if dtype is torch.bfloat16 else 1e-5 * scale
    torch.testing.assert_close(y.float(), expected, atol=float(tol), rtol=0.02 if dtype is torch.bfloat16 else 1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_empty_and_zero_dim(name):
    spec = _spec(name)
    module = spec.build().eval()
    empty = torch.empty(0, 3)
    assert module(empty).shape == (0, 3)
    scalar = torch.tensor(0.5 * (spec.domain[0] + spec.domain[1]) + 0.01)
    y = module(scalar)
    assert y.shape == ()
    torch.testing.assert_close(y.double(), spec.reference(scalar.double()), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_nan_and_inf_propagate_like_the_reference(name):
    spec = _spec(name)
    module = spec.build().double().eval()
    x = torch.tensor([float("nan"), 0.25, float("inf"), float("-inf")], dtype=torch.float64)
    y = module(x)
    assert torch.isnan(y[0]), f"{name}: NaN input must give NaN"
    # Where the textbook formula is inf/inf at +-inf, PyTorch's limit applies: only check NaN.
    n = 4 if spec.nonfinite else 2
    torch.testing.assert_close(y[:n], spec.reference(x[:n]), equal_nan=True, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", [n for n in NAMES if _spec(n).errors])
def test_errors(name):
    spec = _spec(name)
    for kwargs, exc, pattern in spec.errors:
        with pytest.raises(exc, match=pattern):
            spec.build(**kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_deterministic_and_training_is_seeded(name):
    spec = _spec(name)
    module = spec.build().double()
    x = spec.sample((64,), gen=_gen())
    module.eval()
    torch.testing.assert_close(module(x), module(x), atol=0, rtol=0)
    module.train()
    torch.manual_seed(123)
    a = module(x)
    torch.manual_seed(123)
    b = module(x)
    torch.testing.assert_close(a, b, atol=0, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_extra_repr_lists_hyperparameters(name):
    module = _spec(name).build()
    text = repr(module)
    for key, value in _spec(name).kwargs.items():
        assert f"{key}={value}" in text


def _channels(module: torch.nn.Module) -> int:
    return getattr(module, "num_parameters", 1)


@pytest.mark.parametrize(
    ("dtype", "numel"),
    [(torch.float64, 1000), (torch.float32, 1000), (torch.float32, 2 * FUSE_MIN_NUMEL)],
    ids=["f64-eager", "f32-eager", "f32-fused"],
)
@pytest.mark.parametrize("name", [n for n in NAMES if _spec(n).autograd_reference is not None])
def test_fast_path_matches_autograd_of_the_reference(name, dtype, numel):
    # Both sides of FUSE_MIN_NUMEL: the same function as torch ops, and as fused kernels (float32,
    # what users train in: a float64 kernel would be one more cold compile per entry, ~10 s, for
    # math the float64 eager case already pins to 1e-10).
    spec = _spec(name)
    module = spec.build(**spec.fast_kwargs).to(dtype)
    _perturb_(module)
    x = spec.sample((numel // _channels(module), _channels(module)), dtype, gen=_gen()).requires_grad_(True)
    g = torch.randn(x.shape, generator=_gen(1), dtype=torch.float64).to(dtype)
    inputs = [x, *(p for p in module.parameters() if p.requires_grad)]
    got, want = module(x), spec.autograd_reference(x, module)
    tol = 1e-10 if dtype is torch.float64 else 2e-4
    torch.testing.assert_close(got, want, atol=tol, rtol=tol)
    grads = zip(torch.autograd.grad(got, inputs, g), torch.autograd.grad(want, inputs, g))
    (gx_got, gx_want), *param_grads = grads
    torch.testing.assert_close(gx_got, gx_want, atol=tol, rtol=tol)
    for got_p, want_p in param_grads:  # sums over up to `numel` terms
        torch.testing.assert_close(got_p, want_p, atol=tol * numel, rtol=1e-9 if dtype is torch.float64 else 1e-3)


@pytest.mark.parametrize("name", [n for n in NAMES if _spec(n).saved_bytes is not None])
def test_saved_bytes_for_backward(name):
    spec = _spec(name)
    for module in (spec.build(), spec.build(**spec.fast_kwargs)):
        x = spec.sample((16, _channels(module), 8), torch.float32, gen=_gen()).requires_grad_(True)
        assert saved_tensor_bytes(module, x) == spec.saved_bytes(x, module)


@pytest.mark.parametrize(
    "name",
    [n for n in NAMES if _spec(n).reset_kwargs is not None and hasattr(_spec(n).build(), "reset_parameters")],
)
def test_reset_parameters_is_idempotent(name):
    spec = _spec(name)
    module = spec.build(**spec.reset_kwargs)

    def tensors():
        return {k: v.detach().clone() for k, v in [*module.named_parameters(), *module.named_buffers()]}

    fresh = tensors()
    _perturb_(module)
    module.reset_parameters()
    first = tensors()
    module.reset_parameters()
    for key, value in tensors().items():
        assert torch.equal(value, first[key]) and torch.equal(value, fresh[key]), key
