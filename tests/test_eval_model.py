"""The evaluation adapters around ``motiongpt.lm.pipeline.MotionGPT``, with a tiny random bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motiongpt.eval.run import model_callable
from test_lm_fixtures import save_tiny_bundle

pytest_plugins = ["test_lm_fixtures"]  # one_thread, tiny_dirs


@pytest.fixture(scope="module")
def bundle(tiny_dirs, tmp_path_factory):
    return save_tiny_bundle(tmp_path_factory.mktemp("bundle") / "mg", tiny_dirs["causal"], finetune="lora")


def test_adapters_return_the_protocol_shapes(bundle):
    gen = model_callable("t2m", bundle)
    out = gen(["a person walks", "someone jumps"], [40, 48])
    assert [o.shape for o in out] == [(40, 263), (48, 263)]
    assert all(np.isfinite(o).all() for o in out)
    caps = model_callable("m2t", bundle)(out)
    assert len(caps) == 2 and all(isinstance(c, str) for c in caps)
    pred = model_callable("pred", bundle)([o[:8] for o in out], [40, 48])
    assert [p.shape[0] for p in pred] == [40, 48]
    inb = model_callable("inbetween", bundle)([o[:12] for o in out], [o[-12:] for o in out], [40, 48])
    assert [p.shape[0] for p in inb] == [40, 48]


def test_cli_with_model(bundle, tiny_corpus, tmp_path):
    from motiongpt.eval.evaluator import EvaluatorConfig, T2MEvaluator
    from test_eval_cli import _run

    cfg = EvaluatorConfig(dim_text_hidden=16, dim_movement_hidden=16, dim_movement_latent=16,
                          dim_motion_hidden=16, dim_coemb=16)  # fmt: skip
    T2MEvaluator(cfg).save_pretrained(tmp_path / "ev")
    res = _run("eval", "--task", "t2m", "--data", str(tiny_corpus), "--evaluator", str(tmp_path / "ev"),
               "--model", str(bundle), "--quick", "--replications", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Model" in res.stderr and '"multimodality"' in res.stdout
    notes = json.loads(res.stdout)["notes"]  # how the model sampled, for comparing with published numbers
    assert any("guidance 1, temperature" in n and "1 candidate(s) per text" in n for n in notes), notes


def test_sampling_note_names_the_reranking():
    from motiongpt.eval.run import sampling_note
    from motiongpt.lm.pipeline import PipelineConfig

    one = sampling_note(PipelineConfig(guidance=2.0, temperature=0.45))
    assert "guidance 2, temperature 0.45" in one and "reading" not in one
    four = sampling_note(PipelineConfig(candidates=4))
    assert "4 candidate(s)" in four and "own motion -> text reading" in four and "candidates: 1" in four
