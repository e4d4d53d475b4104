"""The benchmarks' baselines compute what they claim to, and the benchmarks print their JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from conftest import shared_data
from motiongpt.motion import features_to_joints, joints_to_features

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from humanml3d_reference import process_clip, recover_from_ric  # noqa: E402

CLIP = "012314.npy"
pytest_plugins = ["test_lm_fixtures"]


def test_reference_pipeline_makes_our_features():
    root = shared_data("humanml3d-sample")
    joints, feats = np.load(root / "new_joints" / CLIP), np.load(root / "new_joint_vecs" / CLIP)
    ref = process_clip(joints)  # (T-1, 263)
    assert ref.shape == (len(joints) - 1, 263)
    np.testing.assert_allclose(ref, joints_to_features(joints), atol=1e-4)
    np.testing.assert_allclose(ref[:80], feats[:80], atol=1e-4)  # and the shipped features, away from the end
    batch = torch.from_numpy(np.stack((feats, feats[::-1].copy()))).float()  # (2, T, 263)
    np.testing.assert_allclose(recover_from_ric(batch).numpy(), features_to_joints(batch).numpy(), atol=1e-4)


def test_features_benchmark_prints_ratios():
    shared_data("humanml3d-sample")
    args = [
        "--batch-sizes",
        "1",
        "4",
        "--ref-clips",
        "1",
        "--per-clip",
        "2",
        "--repeat",
        "1",
        "--threads",
        "1",
    ]
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "features.py"), *args], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["reference_max_abs_diff"] < 1e-4
    j2f, f2j = result["joints_to_features"], result["features_to_joints"]
    assert set(j2f["speedup_vs_reference"]) == {
        "torch_f32_batch_1", "numpy_f64_batch_1", "torch_f32_batch_4", "numpy_f64_batch_4"
    }  # fmt: skip
    assert set(f2j["speedup_vs_reference"]) == {"torch_f32_batch_1", "torch_f32_batch_4"}
    for rates in (
        j2f["clips_per_cpu_s"],
        j2f["clips_per_wall_s"],
        f2j["clips_per_cpu_s"],
        f2j["clips_per_wall_s"],
    ):
        assert all(rate > 0 for rate in rates.values())


def _run_json(script: str, *args: str) -> dict:
    run = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_scaling_table_multiplies_out_its_assumptions():
    result = _run_json(
        "scaling.py", "--lm-step-s", "0.2", "--lm-epochs", "10", "--efficiency", "1=1", "8=0.5"
    )
    rows = {(r["corpus"].split()[0], r["gpus"]): r for r in result["table"]}
    assert set(rows) == {("1x", 1), ("1x", 8), ("10x", 1), ("10x", 8)}
    one = rows[("1x", 1)]
    assert one["stage2_pretrain_h"] == round(10 * 14_616 / (32 / 0.2) / 3600, 2)
    assert one["stage1_tokenizer_h"] == round(300_000 * 256 / (52.8 * 64) / 3600, 2)
    assert rows[("1x", 8)]["stage1_tokenizer_h"] == round(one["stage1_tokenizer_h"] / 4, 2)  # 8 GPUs at 50 %
    assert rows[("10x", 1)]["total_h"] > 9 * one["total_h"]


def test_training_throughput_runs_a_tokenizer_stage(tiny_corpus, tmp_path):
    result = _run_json("training_throughput.py", "--data", str(tiny_corpus), "--tokens", str(tmp_path),
                       "--stages", "tokenizer-small", "--steps", "1", "--warmup", "0",
                       "--loader-batches", "1", "--threads", "1")  # fmt: skip
    stage = result["stages"]["tokenizer-small"]
    assert "error" not in stage, stage
    assert (
        stage["examples_per_step"] == 64 and stage["examples_per_s"] > 0 and stage["examples_per_cpu_s"] > 0
    )
    assert stage["loader_examples_per_s"] > 0 and stage["peak_rss_mb"] >= stage["peak_rss_mb_after_setup"] > 0


def test_profile_generate_times_every_phase(tiny_dirs, tmp_path):
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.lm.pipeline import MotionGPT, PipelineConfig
    from test_lm_fixtures import tiny_lm_config, tiny_motion_tokenizer

    lm = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"], max_prompt_tokens=256))
    mg = MotionGPT(lm, tiny_motion_tokenizer(), PipelineConfig(guidance=3.0))
    bundle = mg.save_pretrained(tmp_path / "mg")
    result = _run_json("profile_generate.py", "--model", str(bundle), "--seconds", "2", "--repeat", "2",
                       "--top", "5")  # fmt: skip
    assert result["motion_tokens"] == 10 and result["rows_per_step"] == 2
    phases = result["phases"]
    # the prompt pass picks the first code, one step each the other 9; <eom> is forced without a step
    assert phases["lm_prompt"]["calls"] == 1 and phases["lm_step"]["calls"] == 9
    assert phases["sampling"]["calls"] == 2 * 10 and phases["features_to_joints"]["calls"] == 1  # mix, draw
    assert all(phases[p]["cpu_ms"] > 0 for p in ("lm_prompt", "lm_step", "sampling", "vq_decode"))
    assert abs(sum(p["share_of_cpu"] for p in phases.values()) - 1) < 0.01
    assert len(result["top_ops"]) == 5 and all(op["calls"] > 0 for op in result["top_ops"])
