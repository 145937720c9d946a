"""ONNX export in eval mode for actlab's own activations, checked with onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import actlab
from specs import SPECS

OURS = [n for n in actlab.list_activations() if actlab.get_spec(n).family != "torch"]


@pytest.mark.parametrize("name", OURS)
def test_onnx_export_matches_eager(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    spec = SPECS[name]
    module = spec.build().eval()
    x = spec.sample((4, 3, 5), torch.float32, gen=torch.Generator().manual_seed(0))
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(module, (x,), str(path), dynamo=True, verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(y, module(x).detach().numpy(), atol=1e-5, rtol=1e-5)
