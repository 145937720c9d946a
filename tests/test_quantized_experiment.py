"""The quantized experiment's pieces on a tiny budget: heat map, caching, verdicts, report."""

from __future__ import annotations

import torch

import actlab.experiments.quantized as exp
from actlab.data import load_dataset
from actlab.experiments._quantized_depth import heatmap, heatmap_plot, heatmap_verdict


def _tiny_data():
    d = load_dataset("mnist1d")
    return type(d)(d.name, d.x_train[:256], d.y_train[:256], d.x_test[:128], d.y_test[:128], d.num_classes)


def test_heatmap_cells_cache_and_verdict(tmp_path):
    data = _tiny_data()
    cfg = {"levels": (2, 4), "depths": (2, 40), "seeds": 2, "width": 8, "epochs": 1, "steps_per_epoch": 2}
    threads = torch.get_num_threads()
    hm = heatmap(data, tmp_path, batch_size=32, **cfg)
    assert torch.get_num_threads() == threads
    row = hm["rows"]["2"]
    assert [c["depth"] for c in row["cells"]] == [2, 40] and len(row["cells"][0]["accs"]) == 2
    # 6 xi = 13.3 for sign units: depth 2 predicted trainable, depth 40 not.
    assert [c["predicted_trainable"] for c in row["cells"]] == [True, False]
    assert round(row["max_depth"], 1) == 13.3
    files = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(files) == 8
    again = heatmap(data, tmp_path, batch_size=32, **cfg)  # read back from the per-cell cache
    assert again["rows"] == hm["rows"] and sorted(p.name for p in (tmp_path / "runs").iterdir()) == files
    verdict, agree = heatmap_verdict(hm)
    assert 0.0 <= agree <= 1.0 and verdict in ("reproduced", "partly", "not reproduced")
    heatmap_plot(hm, tmp_path / "hm.png")
    assert (tmp_path / "hm.png").stat().st_size > 0


def test_verdict_rule_on_known_cells():
    def row(trainable, predicted):
        return {"cells": [{"trainable": t, "predicted_trainable": p} for t, p in zip(trainable, predicted)]}

    same = {"rows": {"2": row([True, False], [True, False])}}
    assert heatmap_verdict(same) == ("reproduced", 1.0)
    half = {"rows": {"2": row([True, True], [True, False])}}
    assert heatmap_verdict(half) == ("not reproduced", 0.5)
    assert exp._exponent_verdict({"exponent": 1.816}) == "reproduced"
    assert exp._exponent_verdict({"exponent": 1.74}) == "not reproduced"


def test_report_prints_claims_numbers_and_verdicts(tmp_path):
    data = _tiny_data()
    res = {"config": {"corr_width": 64}, "depth_exponent": 1.74}
    res["ste"] = {"float relu": {"test_acc": {"mean": 0.3, "std": 0.01, "n": 2}}}
    res["depth"] = exp._part_b(data, 1, 1, (2,), (2,), 8, 64)
    res["correlation"] = exp._part_c((2,), 64, 3)
    res["paper_depth_exponent"] = {"exponent": 1.816, "stderr": 0.003, "levels": [3]}
    res["heatmap"] = heatmap(
        data, tmp_path, levels=(2,), depths=(2,), seeds=1, width=8, epochs=1, steps_per_epoch=1, batch_size=32
    )
    text = exp._report(res)
    assert "p = 1.816 ± 0.003" in text and "1.82" in text and text.count("verdict: **") == 2
    assert "D. Trainability heat map" in text and "| 2 | 2.2 | 13 |" in text
