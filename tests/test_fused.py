"""The fused-kernel wrapper: same values as the plain function, no recompile-limit fallbacks."""

from __future__ import annotations

import torch

from actlab.core.fused import FUSE_MIN_NUMEL, fused, fused_function


@fused
def _affine_clip(x, scale: float, offset: float, upper: bool, shape: tuple[int, ...] | None):
    y = scale * x + offset
    y = torch.clamp(y, max=1.0) if upper else torch.clamp(y, min=-1.0)
    return y if shape is None else y.sum_to_size(shape)


def test_many_configurations_stay_fused_and_exact():
    # 3 dtypes x 2 ranks x 2 flags = 12 static configurations, more than Dynamo's per-code-object
    # recompile limit (8); with warnings as errors a fallback would fail the test.
    n = FUSE_MIN_NUMEL
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(n, generator=gen, dtype=torch.float64)
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        for rank_shape in ((n,), (n // 16, 16)):
            x = base.to(dtype).view(rank_shape)
            for upper in (True, False):
                for scale in (0.5, 2.0):  # floats are symbolic: no new kernel
                    got = _affine_clip(x, scale, 0.1, upper, None)
                    want = _affine_clip.unfused(x, scale, 0.1, upper, None)
                    tol = 1e-2 if dtype is torch.bfloat16 else 0.0
                    torch.testing.assert_close(got, want, atol=tol, rtol=tol)
    reduced = _affine_clip(base.view(n // 16, 16), 1.0, 0.0, True, (1, 16))
    torch.testing.assert_close(reduced, base.clamp(max=1.0).view(n // 16, 16).sum(0, keepdim=True))


def test_small_inputs_and_tracing_run_the_plain_function():
    x = torch.randn(8)
    torch.testing.assert_close(_affine_clip(x, 1.0, 0.0, True, None), torch.clamp(x, max=1.0))
    compiled = torch.compile(lambda t: _affine_clip(t, 1.0, 0.0, False, None), fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), torch.clamp(x, min=-1.0))


def test_static_key_of_unhashable_arguments():
    from actlab.core.fused import _static_key

    assert _static_key({"a": 1}) == _static_key({"a": 1}) != _static_key({"a": 2})
    assert _static_key(1.5) == _static_key(2.5)  # floats are symbols: one kernel for all values
    assert _static_key(torch.zeros(2)) != _static_key(torch.zeros(2, dtype=torch.float64))


def test_inference_calls_on_tensors_with_autograd_history_compile_without_warnings():
    # Inside an autograd.Function (grad disabled) the inputs keep their history: a non-leaf input,
    # e.g. a Linear's output, used to make Dynamo read `.grad` and warn (an error under this suite).
    base = torch.randn(FUSE_MIN_NUMEL, requires_grad=True)
    x = base * 2.0  # non-leaf, requires grad
    with torch.no_grad():
        got = _affine_clip(x, 0.5, 0.25, True, None)
    assert not got.requires_grad
    torch.testing.assert_close(got, torch.clamp(0.5 * x.detach() + 0.25, max=1.0))


@fused
def _scaled_square(x, scale, shift: float):
    return scale * x * x + shift


@fused
def _scaled_square_backward(g, x, scale, shift: float, scale_shape):
    grad_x = g * 2 * scale * x
    return grad_x, None if scale_shape is None else (g * x * x).sum_to_size(scale_shape)


def _square_function(**options):
    return fused_function("_SquareFunction", _scaled_square, _scaled_square_backward, params=(1,), **options)


def test_fused_function_names_saves_reduces_and_double_backward():
    fn = _square_function()
    assert fn.__name__ == "_SquareFunction" and issubclass(fn, torch.autograd.Function)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    y = fn.apply(x, scale, 0.5)
    assert type(y.grad_fn).__name__ == "_SquareFunctionBackward"
    saved = y.grad_fn.saved_tensors
    assert len(saved) == 2 and saved[0] is x and saved[1] is scale  # the tensor inputs, nothing else
    torch.testing.assert_close(y, scale * x * x + 0.5)
    assert torch.autograd.gradcheck(fn.apply, (x, scale, 0.5))
    assert torch.autograd.gradgradcheck(fn.apply, (x, scale, 0.5))  # the backward is differentiable
    # A float parameter gets no gradient; torch.func transforms accept the Function.
    grad = torch.func.grad(lambda t: fn.apply(t, 3.0, 0.0).sum())(x.detach())
    torch.testing.assert_close(grad, 6 * x.detach())


def test_fused_function_once_differentiable_and_need_x():
    seen = []

    def backward(g, x, scale, shift, need_x, scale_shape):
        seen.append((need_x, scale_shape))
        grad_scale = None if scale_shape is None else (g * x * x).sum_to_size(scale_shape)
        return (g * 2 * scale * x if need_x else None), grad_scale

    fn = fused_function("_Once", _scaled_square, backward, params=(1,), need_x=True, once_differentiable=True)
    scale = torch.ones(4, requires_grad=True)
    fn.apply(torch.randn(3, 4), scale, 0.0).sum().backward()
    assert seen == [(False, (4,))] and scale.grad.shape == (4,)  # x needs no gradient here
    x = torch.randn(3, 4, requires_grad=True)
    (gx,) = torch.autograd.grad(fn.apply(x, 2.0, 0.0).sum(), x, create_graph=True)
    assert not gx.requires_grad  # once_differentiable: no graph for a second derivative
