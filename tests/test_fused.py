"""The fused-kernel wrapper: same values as the plain function, no recompile-limit fallbacks."""

from __future__ import annotations

import torch

from actlab.core.fused import FUSE_MIN_NUMEL, fused


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
