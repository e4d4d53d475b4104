"""Do the tests catch the bugs they are named for? Apply deliberate bugs one at a time and see.

Each mutation replaces one exact piece of source text (it must occur exactly once) in a temporary copy of
the tree at a git revision (default HEAD: ``git archive``, so edits in progress in the working tree do not
leak in), runs the fast tests named for it against that copy (``PYTHONPATH`` points at the copy's ``src``,
so the ``motiongpt`` console script the CLI tests start imports the mutant too) and counts the mutation
killed when they fail. The tests are first run once on the unmutated copy: a mutation whose tests already
fail there is reported as ``invalid``, not as killed.

    nice -n 19 .venv/bin/python scripts/mutation_check.py               # all; JSON on stdout
    nice -n 19 .venv/bin/python scripts/mutation_check.py --only fid_sqrtm_of_each_covariance
    nice -n 19 .venv/bin/python scripts/mutation_check.py --list

Exit code 0 when every mutation is killed, 1 otherwise. CI does not run this (minutes of CPU); the last
kill rate is in docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ["src", "tests", "configs", "pyproject.toml"]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # under src/motiongpt/
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments: files, node ids or "-k" expressions


SAMPLING = ("tests/test_lm_sampling.py",)
MUTATIONS = [
    # --- the bugs named in issue #16 ------------------------------------------------------------------
    Mutation(
        "fid_sqrtm_of_each_covariance",
        "eval/metrics.py",
        "covmean = linalg.sqrtm(s_a @ s_b)",
        "covmean = linalg.sqrtm(s_a) @ linalg.sqrtm(s_b)",
        ("tests/test_metrics.py",),
    ),
    Mutation(
        "free_length_never_stops_early",
        "lm/generation.py",
        "state = torch.where(in_seg & (count >= mn) & (count < mx), ANY, state)",
        "state = torch.where(in_seg & (count >= mn) & (count < mx), NEED, state)",
        SAMPLING,
    ),
    Mutation(
        "chat_drops_motion_only_answers",
        "webui/session.py",
        "        if reply.motion is None:",
        "        if reply.motion is None or not reply.text:",
        ("tests/test_webui_session.py",),
    ),
    Mutation(
        "top_k_skipped",
        "lm/generation.py",
        "if 0 < sampling.top_k < logits.shape[-1]:",
        "if False:",
        SAMPLING,
    ),
    Mutation(
        "encoder_latent_reshaped_not_transposed",
        "tokenizer/model.py",
        'return rearrange(z, "b d n -> b n d")',
        "return z.reshape(z.shape[0], z.shape[2], z.shape[1])",
        ("tests/test_tokenizer.py",),
    ),
    # --- sampling and generation ----------------------------------------------------------------------
    Mutation(
        "temperature_ignored",
        "lm/generation.py",
        "logits = logits.float() / sampling.temperature",
        "logits = logits.float()",
        SAMPLING,
    ),
    Mutation(
        "top_p_drops_the_crossing_token",
        "lm/generation.py",
        "drop = cum - sorted_logits.softmax(-1) > sampling.top_p",
        "drop = cum > sampling.top_p",
        SAMPLING,
    ),
    Mutation(
        "zero_temperature_not_greedy",
        "lm/generation.py",
        "return not self.do_sample or self.temperature == 0",
        "return not self.do_sample",
        SAMPLING,
    ),
    Mutation(
        "free_length_minimum_is_the_cap",
        "lm/generation.py",
        "lo.append(cfg.min_motion_tokens)",
        "lo.append(cap)",
        SAMPLING,
    ),
    Mutation(
        "inbetween_ends_with_the_start",
        "lm/pipeline.py",
        "self.decode(np.concatenate([h, i.numpy(), t]))",
        "self.decode(np.concatenate([h, i.numpy(), h]))",
        ("tests/test_lm_pipeline.py", "-k", "inbetween"),
    ),
    Mutation(
        "caption_reads_reversed_tokens",
        "lm/pipeline.py",
        "Motion=self.vocab.motion_to_text(self.encode(m))",
        "Motion=self.vocab.motion_to_text(self.encode(m)[::-1])",
        ("tests/test_lm_pipeline.py", "-k", "caption"),
    ),
    Mutation(
        "t2t_count_off_by_one",
        "lm/tasks.py",
        '"Count": str(len(action_steps(text)))',
        '"Count": str(len(action_steps(text)) + 1)',
        ("tests/test_lm_tasks.py", "-k", "text_tasks"),
    ),
    # --- tokenizer ------------------------------------------------------------------------------------
    Mutation(
        "decoder_latent_reshaped_not_transposed",
        "tokenizer/model.py",
        'recon = self.decoder(rearrange(q, "b n d -> b d n"))',
        "recon = self.decoder(q.reshape(q.shape[0], q.shape[2], q.shape[1]))",
        ("tests/test_tokenizer.py",),
    ),
    # --- features and conversion ----------------------------------------------------------------------
    Mutation(
        "foot_contact_inverted",
        "motion/features.py",
        'contact = (step2.index_select(-1, c["feet"]) < FOOT_CONTACT_THRESHOLD)',
        'contact = (step2.index_select(-1, c["feet"]) > FOOT_CONTACT_THRESHOLD)',
        ("tests/test_features.py",),
    ),
    Mutation(
        "root_rotation_velocity_full_angle",
        "motion/features.py",
        "rot_vel = 0.5 * torch.atan2(",
        "rot_vel = 1.0 * torch.atan2(",
        ("tests/test_features.py",),
    ),
    Mutation(
        "features_to_joints_yaw_sign",
        "motion/features.py",
        "s = F.pad(s, (1, 0))[..., None]",  # the body turned by +yaw (the root path keeps -yaw)
        "s = -F.pad(s, (1, 0))[..., None]",
        ("tests/test_features.py",),
    ),
    Mutation(
        "convert_features_in_centimetres",
        "motion/io.py",
        "feats = np.asarray(joints_to_features(joints), dtype=np.float32)",
        "feats = np.asarray(joints_to_features(joints * 100), dtype=np.float32)",
        ("tests/test_convert_cli.py", "-k", "features"),
    ),
    # --- BVH ------------------------------------------------------------------------------------------
    Mutation(
        "bvh_reader_extrinsic_euler",
        "motion/bvh/reader.py",
        "return Rotation.from_euler(axes, angles, degrees=True).as_matrix()",
        "return Rotation.from_euler(axes.lower(), angles, degrees=True).as_matrix()",
        ("tests/test_bvh_reader.py", "tests/test_bvh_writer.py", "-k", "not blender"),
    ),
    Mutation(
        "bvh_writer_ignores_fps",
        "motion/bvh/writer.py",
        'f"Frame Time: {1.0 / fps:.8f}"',
        'f"Frame Time: {1.0 / FPS:.8f}"',
        ("tests/test_bvh_writer.py", "-k", "not blender"),
    ),
    # --- metrics and protocol -------------------------------------------------------------------------
    Mutation(
        "diversity_squared_distance",
        "eval/metrics.py",
        "return float(np.linalg.norm(e[first] - e[second], axis=1).mean())",
        "return float(((e[first] - e[second]) ** 2).sum(1).mean())",
        ("tests/test_metrics.py",),
    ),
    Mutation(
        "multimodality_across_prompts",
        "eval/metrics.py",
        "np.linalg.norm(e[:, first] - e[:, second], axis=2)",
        "np.linalg.norm(e[:, first] - e[::-1, second], axis=2)",
        ("tests/test_metrics.py",),
    ),
    Mutation(
        "distinct_r_precision_ignores_the_order",
        "eval/protocol.py",
        "rp = metrics.r_precision(text_emb[order], motion_emb[order], 3, batch)",
        "rp = metrics.r_precision(text_emb, motion_emb, 3, batch)",
        ("tests/test_eval_distinct_r_precision.py",),
    ),
    # --- web UI session -------------------------------------------------------------------------------
    Mutation(
        "chat_history_without_the_new_prompt",
        "webui/session.py",
        "history = _recent([*turns, user])",
        "history = _recent([*turns, user])[:-1] or [user]",
        ("tests/test_webui_session.py",),
    ),
    Mutation(
        "chat_user_motion_after_text",
        "webui/session.py",
        'return {"role": turn.role, "content": motion + text if turn.role == "user" else text + motion}',
        'return {"role": turn.role, "content": text + motion}',
        ("tests/test_webui.py::test_user_motion_goes_first_in_a_message", "tests/test_webui_session.py"),
    ),
]


def _extract(ref: str, dest: Path) -> None:
    """The tree at ``ref`` (or the working tree for ``ref=""``), only the paths the tests need."""
    if ref:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, *COPIED], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        import shutil

        for name in COPIED:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, dest / name)


def _pytest(tree: Path, args: tuple[str, ...], timeout: float) -> tuple[int, float, str]:
    """Run pytest in ``tree`` on ``args``: (exit code, seconds, last lines). Code -9 for a timeout."""
    env = os.environ | {
        "PYTHONPATH": str(tree / "src"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -9, time.perf_counter() - start, "timed out"
    tail = [line for line in (proc.stdout + proc.stderr).strip().splitlines() if line.strip()][-3:]
    return proc.returncode, time.perf_counter() - start, " | ".join(tail)[-400:]


def _check_imports_from(tree: Path) -> None:
    """Fail loudly unless ``motiongpt`` imports from the copy (else every mutation would survive)."""
    env = os.environ | {"PYTHONPATH": str(tree / "src")}
    where = subprocess.run(
        [sys.executable, "-c", "import motiongpt; print(motiongpt.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"motiongpt imports from {where}, not from the copy in {tree}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="HEAD", help="git revision to copy ('' = the working tree)")
    parser.add_argument("--only", nargs="*", default=None, help="names of the mutations to run")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pytest run")
    parser.add_argument("--list", action="store_true", help="print the mutations and exit")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the unmutated run (when the tests are known to pass)"
    )
    opts = parser.parse_args()
    chosen = [m for m in MUTATIONS if opts.only is None or m.name in opts.only]
    if opts.list or not chosen:
        for m in MUTATIONS:
            print(f"{m.name:45s} {m.file:24s} {' '.join(m.tests)}")
        return 0 if opts.list else 2
    with tempfile.TemporaryDirectory(prefix="motiongpt-mutants-") as tmp:
        tree = Path(tmp) / "main"
        tree.mkdir()
        if (ROOT.parent / "shared").is_dir():  # the real-data tests find ../shared/data beside the copy too
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
        _extract(opts.ref, tree)
        _check_imports_from(tree)
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", opts.ref or "HEAD"],
            capture_output=True, text=True,
        ).stdout.strip() + ("" if opts.ref else "+worktree")  # fmt: skip
        baseline: dict[tuple[str, ...], tuple[int, str]] = {}
        results = []
        for m in chosen:
            path = tree / "src" / "motiongpt" / m.file
            original = path.read_text(encoding="utf-8")
            entry: dict = {"name": m.name, "file": f"src/motiongpt/{m.file}", "tests": " ".join(m.tests)}
            if original.count(m.old) != 1:
                entry |= {"status": "not_applied", "killed": False,
                          "detail": f"the text occurs {original.count(m.old)} times, expected once"}  # fmt: skip
                results.append(entry)
                print(json.dumps(entry), file=sys.stderr, flush=True)
                continue
            if opts.no_baseline:
                baseline[m.tests] = (0, "")
            if m.tests not in baseline:
                rc, _, tail = _pytest(tree, m.tests, opts.timeout)
                baseline[m.tests] = (rc, tail)
            if baseline[m.tests][0] != 0:
                entry |= {"status": "invalid", "killed": False,
                          "detail": f"tests fail without the mutation: {baseline[m.tests][1]}"}  # fmt: skip
                results.append(entry)
                print(json.dumps(entry), file=sys.stderr, flush=True)
                continue
            path.write_text(original.replace(m.old, m.new), encoding="utf-8")
            try:
                rc, seconds, tail = _pytest(tree, m.tests, opts.timeout)
            finally:
                path.write_text(original, encoding="utf-8")
            status = {0: "survived", 1: "killed", -9: "killed_timeout", 5: "no_tests"}.get(rc, "killed_error")
            killed = status.startswith("killed")
            entry |= {"status": status, "killed": killed, "seconds": round(seconds, 1), "detail": tail}
            results.append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)  # progress, one line per mutation
    n_killed = sum(r["killed"] for r in results)
    report = {
        "revision": rev,
        "mutations": len(results),
        "killed": n_killed,
        "kill_rate": round(n_killed / len(results), 3),
        "survived": [r["name"] for r in results if not r["killed"]],
        "results": results,
    }
    print(json.dumps(report, indent=2))
    return 0 if n_killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
