"""The C kernel of the hard noisy units (actlab/noisy/noisy.c) against their torch-op definition."""

from __future__ import annotations

import itertools
import math
import re
import warnings
from importlib import resources

import pytest
import torch
from hypothesis import given, settings, strategies as st

import actlab
from actlab.core import native as _native
from actlab.noisy import core as noisy_core, noise
from actlab.noisy.core import (
    _forward,
    _native_backward,
    _native_forward,
    _native_kernel,
    _native_walk,
)

KEY = torch.tensor([-123456789, 987654321], dtype=torch.int32)

# (input shape, p shape): one p; a per-channel p on long rows (one p per row) and on short rows
# (an expanded p row); a 1-D input with a p per element; p varying over trailing dims. Odd sizes
# put rows at odd offsets (a Box-Muller pair split across rows) and leave short tails.
LAYOUTS = [
    ((1001,), ()),
    ((3, 5, 67), (5, 1)),
    ((37, 5), (5,)),
    ((4, 3, 7, 3), (3, 1, 1)),
    ((2, 6, 10), (6, 10)),
    ((9,), (9,)),
    ((130, 257), (1,)),
]
CONFIGS = list(itertools.product(["hard_tanh", "hard_sigmoid"], ["nan", "nani"], [False, True]))


def _inputs(shape, p_shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(shape, generator=gen)
    x.view(-1)[:4] = torch.tensor([0.0, -1.0, 1.0, 2.0])  # sign(0) and the kinks of both units
    p = torch.rand(p_shape, generator=gen) * 3 - 0.5  # includes negative p
    return x, p


@pytest.mark.parametrize(("unit", "mode", "half"), CONFIGS)
@pytest.mark.parametrize(("shape", "p_shape"), LAYOUTS, ids=[f"{s}-p{p}" for s, p in LAYOUTS])
def test_kernel_matches_the_torch_op_definition(shape, p_shape, unit, mode, half):
    x, p = _inputs(shape, p_shape)
    c = torch.tensor(2.5)
    for alpha, slopes in ((1.15, 2), (0.9, 1), (1.0, 0)):
        want = _forward.unfused(x, p, c, KEY, alpha, unit, mode, half, slopes)
        got = _native_forward(x, p, c, KEY, alpha, unit, mode, half, slopes)
        assert got is not None and len(got) == len(want) == 1 + slopes
        for i, (w, g) in enumerate(zip(want, got)):
            assert g.shape == w.shape and g.dtype == w.dtype
            # The slopes carry sigmoid'(p Delta) = 1/4 - t^2, which cancels in float32 deep in
            # saturation: there both paths are off the exact value by ~1e-7 times |dy/d sigma|.
            tol = 2e-6 if i == 0 else 2e-5
            torch.testing.assert_close(g, w, atol=tol, rtol=tol)


@st.composite
def _shape_and_p_shape(draw):
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=0, max_size=4)))
    # p broadcasts to x: each of its (trailing-aligned) dims is 1 or x's size
    dims = draw(st.integers(0, len(shape)))
    p_shape = tuple(s if draw(st.booleans()) else 1 for s in shape[len(shape) - dims :])
    return shape, p_shape


@settings(max_examples=60, deadline=None)
@given(
    shapes=_shape_and_p_shape(),
    config=st.sampled_from(CONFIGS),
    alpha=st.sampled_from([0.8, 1.0, 1.15]),
    slopes=st.integers(0, 2),
    seed=st.integers(0, 2**31 - 1),
    key=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=2, max_size=2),
)
def test_kernel_matches_on_any_broadcastable_p(shapes, config, alpha, slopes, seed, key):
    """Any shape (0-d too) and any p that broadcasts to it: the kernel or the torch ops, same values."""
    shape, p_shape = shapes
    if math.prod(shape) >= 4:
        x, p = _inputs(shape, p_shape, seed)
    else:  # too small for _inputs' fixed kink values
        gen = torch.Generator().manual_seed(seed)
        x, p = 3 * torch.randn(shape, generator=gen), torch.rand(p_shape, generator=gen)
    key = torch.tensor(key, dtype=torch.int32)
    c = torch.tensor(1.5)
    want = _forward.unfused(x, p, c, key, alpha, *config, slopes)
    got = _native_forward(x, p, c, key, alpha, *config, slopes)
    assert got is not None
    for i, (w, g) in enumerate(zip(want, got)):
        tol = 2e-6 if i == 0 else 2e-5
        torch.testing.assert_close(g, w, atol=tol, rtol=tol)


@pytest.mark.parametrize(("unit", "mode", "half"), CONFIGS)
def test_linear_blocks_skip_the_draw_with_the_same_values(unit, mode, half):
    """Mostly-unsaturated rows take the kernel's shortcut loop (groups of 16 linear lanes skip the
    draw and the sigmoid); in it, groups with a saturated lane, a NaN or an infinity take the full
    step. Same values as the torch ops either way (the saturated inputs of the other tests run
    the plain loop)."""
    gen = torch.Generator().manual_seed(5)
    x = 0.3 * torch.randn(64, 48, generator=gen)
    x[3, 5], x[10, 17], x[20, 0], x[30, 47] = 4.0, float("nan"), float("inf"), -3.0
    p = torch.rand(48, generator=gen) + 0.5
    c = torch.tensor(2.0)
    for slopes in (1, 2):
        want = _forward.unfused(x, p, c, KEY, 1.15, unit, mode, half, slopes)
        got = _native_forward(x, p, c, KEY, 1.15, unit, mode, half, slopes)
        for w, g in zip(want, got):
            torch.testing.assert_close(g, w, atol=2e-5, rtol=2e-5, equal_nan=True)


def test_layouts_cover_every_p_mode():
    modes = {_native_walk(p, x)[2] for x, p in (_inputs(*layout) for layout in LAYOUTS)}
    assert modes == {0, 1, 2}


def test_non_contiguous_input_and_thread_count_do_not_change_the_draw():
    x, p = _inputs((300, 200), ())
    c = torch.tensor(1.0)
    ref = _native_forward(x, p, c, KEY, 1.15, "hard_tanh", "nan", False, 2)
    t = x.t().contiguous().t()  # same values, column-major strides
    for a, b in zip(ref, _native_forward(t, p, c, KEY, 1.15, "hard_tanh", "nan", False, 2)):
        assert torch.equal(a, b)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _native_forward(x, p, c, KEY, 1.15, "hard_tanh", "nan", False, 2)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(ref, one):
        assert torch.equal(a, b)  # each element's noise depends on its index only


@pytest.mark.parametrize("streamed", [False, True], ids=["cached stores", "streamed stores"])
@pytest.mark.parametrize(("shape", "p_shape"), LAYOUTS, ids=[f"{s}-p{p}" for s, p in LAYOUTS])
def test_backward_kernel_matches_torch(shape, p_shape, streamed, monkeypatch):
    """grad_x = g * dy/dx exactly, and the p gradient = (g * dy/dp) summed to p's shape, for one p
    or one per channel (long rows); a p per element of a row is left to the fused kernel. Both
    store kinds: rows of odd length start the streamed stores at unaligned outputs."""
    monkeypatch.setattr(noisy_core, "_NATIVE_BACKWARD_MIN", 0)  # these small layouts too
    monkeypatch.setattr(noisy_core, "_NATIVE_STREAM_MIN", 0 if streamed else 1 << 40)
    x, p = _inputs(shape, p_shape)
    _, dydx, dydp = _native_forward(x, p, torch.tensor(2.0), KEY, 1.15, "hard_tanh", "nan", False, 2)
    g = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    fixed = _native_backward(g, dydx, None, p, None)  # a fixed p: the gradient only, streamed (else ATen's)
    if streamed:
        assert fixed is not None and fixed[1] is None and torch.equal(fixed[0], g * dydx)
    else:
        assert fixed is None
    got = _native_backward(g, dydx, dydp, p, tuple(p.shape))
    if _native_walk(p, x)[2] == 2:
        assert got is None
        return
    assert got is not None
    grad_x, grad_p = got
    assert torch.equal(grad_x, g * dydx)
    want = (g.double() * dydp.double()).sum_to_size(p.shape)
    assert grad_p.shape == p.shape and grad_p.dtype == torch.float32
    torch.testing.assert_close(grad_p.double(), want, rtol=1e-6, atol=1e-6 * float(want.abs().max()))


@pytest.mark.parametrize("stream_min", [0, 1 << 40], ids=["streamed stores", "cached stores"])
def test_backward_sums_do_not_depend_on_the_thread_count(stream_min, monkeypatch):
    monkeypatch.setattr(noisy_core, "_NATIVE_STREAM_MIN", stream_min)
    x, p = _inputs((4, 3, 40000), (3, 1))  # per-channel p on long rows: several blocks per row
    _, dydx, dydp = _native_forward(x, p, torch.tensor(1.0), KEY, 1.15, "hard_tanh", "nan", False, 2)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    ref = _native_backward(g, dydx, dydp, p, tuple(p.shape))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _native_backward(g, dydx, dydp, p, tuple(p.shape))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(ref, one))


def test_kernel_is_used_only_where_it_computes_the_same_function(monkeypatch):
    x, p = _inputs((40, 8), ())
    c = torch.tensor(1.0)
    args = (1.15, "hard_tanh", "nan", False, 1)
    assert _native_forward(x, p, c, KEY, *args) is not None
    assert _native_forward(x, p, c, None, *args) is None  # eval: no noise, the torch ops are cheap
    assert _native_forward(x.double(), p.double(), c.double(), KEY, *args) is None
    assert _native_forward(x, p, c, KEY, 1.15, "tanh", "nan", False, 1) is None  # soft units
    assert _native_forward(x, p, torch.ones(40, 1), KEY, *args) is None  # c per element
    _, dydx, dydp = _native_forward(x, p, c, KEY, 1.15, "hard_tanh", "nan", False, 2)
    g = torch.ones_like(x)
    assert _native_backward(g, dydx, dydp, p, ()) is None  # small: the fused ops cost less per call
    assert _native_backward(g, dydx, None, p, None) is None  # and ATen's multiply for a fixed p
    monkeypatch.setattr(noisy_core, "_NATIVE_BACKWARD_MIN", 0)
    assert _native_backward(g, dydx, dydp, p, ()) is not None
    monkeypatch.setattr(noisy_core, "_NATIVE_STREAM_MIN", 0)
    assert _native_backward(g, dydx, None, p, None) is not None
    assert _native_backward(g.double(), dydx.double(), dydp.double(), p.double(), ()) is None
    assert _native_backward(g.t(), dydx.t(), dydp.t(), p, ()) is None  # only the forward's contiguous slopes
    monkeypatch.setattr(noisy_core, "_NATIVE", False)
    assert _native_forward(x, p, c, KEY, *args) is None
    assert _native_backward(g, dydx, dydp, p, ()) is None


def test_the_custom_ops_pass_opcheck():
    """The C kernels as torch.library ops: schema, fake (meta) outputs, registered autograd and
    AOT dispatch, as `torch.library.opcheck` checks them (small shapes, every slope count)."""
    x, p = _inputs((2, 3, 70), (3, 1))
    c = torch.tensor(2.0)
    for slopes in (0, 1, 2):  # without slopes there is no backward: called without grad
        xs, ps = (x.clone().requires_grad_(slopes > 0), p.clone().requires_grad_(slopes > 1))
        args = (xs, ps, c, KEY, 1.15, "hard_tanh", "nan", False, slopes)
        torch.library.opcheck(torch.ops.actlab.noisy_forward.default, args)
    _, dydx, dydp = _native_forward(x, p, c, KEY, 1.15, "hard_sigmoid", "nani", True, 2)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    torch.library.opcheck(torch.ops.actlab.noisy_backward.default, (g, dydx, dydp, p))
    torch.library.opcheck(torch.ops.actlab.noisy_backward.default, (g, dydx, None, p))


def test_compiled_training_takes_the_c_kernel_as_an_op_of_the_graph(monkeypatch):
    """Under torch.compile(fullgraph=True), in training mode, the C kernel's op is a node of the
    graph (the compiled model is not sent to the torch ops), it runs, and the outputs and both
    gradients equal eager's (Inductor draws the key with ATen's generator here, as eager does)."""
    kernel, calls = _native_kernel, []
    monkeypatch.setattr(noisy_core, "_native_kernel", lambda: calls.append(1) or kernel())
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    m = actlab.create("noisy_hard_tanh(c=3.0, num_parameters=4)").train()
    x0, _ = _inputs((32, 4, 16), ())
    g = torch.randn(x0.shape, generator=torch.Generator().manual_seed(4))

    def step(fn):
        torch.manual_seed(0)
        m.p.grad = None
        x = x0.clone().requires_grad_()
        y = fn(x)
        y.backward(g)
        return y.detach(), x.grad, m.p.grad.clone()

    want = step(m)
    assert len(calls) == 1  # eager: the C kernel
    for backend in (record, "inductor"):
        torch._dynamo.reset()
        calls.clear()
        with torch._inductor.config.patch(fallback_random=True):
            got = step(torch.compile(m, fullgraph=True, backend=backend))
        assert len(calls) == 1, backend
        for w, v in zip(want, got):
            torch.testing.assert_close(v, w, atol=1e-6, rtol=1e-6)
    targets = {node.target for gm in graphs for node in gm.graph.nodes}
    assert torch.ops.actlab.noisy_forward.default in targets
    torch._dynamo.reset()


def test_c_source_holds_no_copies_of_the_python_constants():
    """The fits, hash multipliers and unit slopes reach noisy.c only through the generated header:
    no long decimal or hex literal in the source, every generated name used, none undefined."""
    source = (resources.files("actlab.noisy") / "noisy.c").read_text()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    assert not re.findall(r"\d\.\d{4,}|\d[eE][-+]?\d", code)  # no hand-written fit coefficients
    assert not re.findall(r"0x[0-9A-Fa-f]{8}", code.replace("0x7FFFFFFF", "").replace("0x80000000", ""))
    header = noisy_core._native_header()
    defined = re.findall(r"^#define (\w+) ", header, flags=re.M)
    assert all(re.search(rf"\b{name}\b", code) for name in defined)
    assert f"{noise._LOG1P_Q[3]!r}f" in header and hex(noise._MIX_MUL[1]) in header


def test_kernel_rejects_bad_codes():
    kernel = _native_kernel()
    x = torch.zeros(8)
    ptr = x.data_ptr()
    ok = kernel(ptr, ptr, None, None, 1, 8, torch.ones(1).data_ptr(), 0, 1, 0, 0, 0, 1.0, 1.0, 1, 2, 0, 1)
    bad_unit = kernel(ptr, ptr, None, None, 1, 8, torch.ones(1).data_ptr(), 0, 1, 2, 0, 0, 1.0, 1.0, 1, 2, 0, 1)
    bad_slopes = kernel(ptr, ptr, None, None, 1, 8, torch.ones(1).data_ptr(), 0, 1, 0, 0, 0, 1.0, 1.0, 1, 2, 3, 1)
    assert (ok, bad_unit, bad_slopes) == (0, -1, -1)


def test_build_is_cached_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path))
    source = b"int actlab_answer(void) { return 42; }\n"
    cc = _native._compiler()
    first = _native._build("answer", source, cc)
    mtime = first.stat().st_mtime_ns
    assert _native._build("answer", source, cc) == first and first.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary files left behind
    assert _native._build("answer", source + b"\n", cc) != first  # a changed source builds anew


def test_gcc_is_recognised_under_any_name():
    assert _native._is_gcc("cc (Debian 12.2.0-14+deb12u1) 12.2.0\nCopyright (C) 2022 Free Software Foundation, Inc.")
    assert _native._is_gcc("gcc (GCC) 13.2.1 20230801")
    assert not _native._is_gcc("Apple clang version 15.0.0 (clang-1500.3.9.4)")
    assert not _native._is_gcc("Debian clang version 14.0.6\nTarget: x86_64-pc-linux-gnu")


def test_a_failed_build_warns_once_and_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_native, "_compiler", lambda: None)
    _native._load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match=r"could not build the native kernel 'noisy' .*no C compiler"):
            assert _native.load("actlab.noisy", "noisy") is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert _native.load("actlab.noisy", "noisy") is None  # remembered: no second warning
    finally:
        _native._load.cache_clear()
