"""Writing a motion onto a target rig (presets, a user's Mixamo-named file, real Bandai/CMU rigs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLE_BVH, MOTIONGPT_CLI
from motiongpt.errors import BVHError, InvalidMotionError
from motiongpt.motion.bvh import bvh_to_joints, read_bvh, write_bvh_on_rig
from motiongpt.motion.bvh.reader import BVHClip, parse_bvh
from motiongpt.motion.bvh.rigs import preset_text
from motiongpt.motion.skeleton import knee_elbow_angles

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from user_rigs import write_user_mixamo  # noqa: E402  (one copy: the rig-export benchmark uses it too)

pytest_plugins = ["test_lm_fixtures"]  # tiny_dirs: a tiny backbone for the generate test

FOOT = (7, 8, 10, 11)  # l_ankle, r_ankle, l_foot, r_foot
CONTACT_STEP2 = 0.002  # m^2 per frame, HumanML3D's foot-contact threshold


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    return bvh_to_joints(EXAMPLE_BVH).astype(np.float64)  # (57, 22, 3) CMU 02_01, metres, Y up


def planted(source: np.ndarray) -> np.ndarray:
    """(T, 2) left/right foot planted: its ankle or toe under HumanML3D's contact threshold within 5 cm of
    that joint's lowest height (the exporter's definition, restated)."""
    feet = source[:, list(FOOT)]
    step2 = (np.diff(feet, axis=0) ** 2).sum(-1)
    still = np.concatenate([step2, step2[-1:]]) < CONTACT_STEP2
    flags = still & (feet[..., 1] < feet[..., 1].min(0) + 0.05)
    return flags[:, :2] | flags[:, 2:]


def joint_heights(joints: np.ndarray, standing: np.ndarray) -> np.ndarray:
    """(T, 4) heights of the ankles and toes (l, r, l, r) over their heights when standing, (4,)."""
    return joints[:, list(FOOT), 1] - standing


def leg_length(joints: np.ndarray) -> float:
    bones = joints[:, [4, 7, 5, 8]] - joints[:, [1, 4, 2, 5]]  # (T, 4, 3) thighs and shins
    return float(np.linalg.norm(bones, axis=-1).sum(-1).mean() / 2)


def foot_contact(source: np.ndarray, out: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
    """The rig's feet against the motion's at the motion's planted frames (all (·, 22, 3), metres, Y up).

    A foot's height is its lower joint's (ankle or toe) over that joint's standing height: for the rig
    in its ``reference`` pose (the lower of both feet, the floor at the lowest), for the motion the lowest
    across the clip. Returns ``track``: the rig's foot height minus the motion's scaled by the legs'
    length ratio, at every planted frame; ``ground``: the rig's foot height where the motion's foot is on
    its floor (planted, under 1 cm); ``flat``: the higher of the rig's ankle and toe where both of the
    motion's are on the floor (a flat foot must stay flat, not stand on its heel with the toes up)."""
    ref = reference[list(FOOT), 1] - reference[list(FOOT), 1].min()
    rig = joint_heights(out, np.minimum(ref, ref[[1, 0, 3, 2]]))  # (T, 4)
    feet = source[:, list(FOOT), 1]
    src = joint_heights(source, np.repeat([feet[:, :2].min(), feet[:, 2:].min()], 2))
    rig_foot, src_foot = np.minimum(rig[:, :2], rig[:, 2:]), np.minimum(src[:, :2], src[:, 2:])  # (T, 2)
    plant = planted(source)
    assert plant.sum() > 20  # the clip has planted feet to check
    scale = leg_length(reference[None]) / leg_length(source)
    flat = plant & (np.maximum(src[:, :2], src[:, 2:]) < 0.01)
    return {
        "track": rig_foot[plant] - scale * src_foot[plant],
        "ground": rig_foot[plant & (src_foot < 0.01)],
        "flat": np.maximum(rig[:, :2], rig[:, 2:])[flat],
    }


def check_export(
    source: np.ndarray, out_path: Path, rig_clip: BVHClip, ref_row: np.ndarray, preset: str
) -> dict[str, float]:
    """Hierarchy kept, knee/elbow angles within 5 degrees, feet within 2 cm of the floor where the motion's
    are on it (and as high as the motion's, scaled, at every planted frame), flat feet flat."""
    out = read_bvh(out_path)
    assert out.names == rig_clip.names and out.parents == rig_clip.parents
    assert out.channels == rig_clip.channels and np.allclose(out.offsets, rig_clip.offsets, atol=1e-4)
    assert out.n_frames == len(source) and abs(out.frame_time - 0.05) < 1e-6
    back = bvh_to_joints(out, rig=preset).astype(np.float64)  # read with the project's own reader
    angle_err = np.abs(knee_elbow_angles(back) - knee_elbow_angles(source)).max()
    ref = BVHClip(rig_clip.names, rig_clip.parents, rig_clip.offsets, rig_clip.channels, 1.0, ref_row[None])
    feet = foot_contact(source, back, bvh_to_joints(ref, rig=preset)[0])
    fingers = [i for i, n in enumerate(out.names) if "Index2" in n or "Mid2" in n]  # unmatched: reference
    for j in fingers:
        cols = slice(out.channel_starts[j], out.channel_starts[j] + len(out.channels[j]))
        np.testing.assert_allclose(out.motion[:, cols], np.tile(ref_row[cols], (out.n_frames, 1)), atol=1e-4)
    stats = {"angle_err_deg": float(angle_err), "ground_frames": len(feet["ground"])}
    stats |= {f"{k}_max_m": float(np.abs(v).max()) for k, v in feet.items()}
    assert stats["angle_err_deg"] < 5.0, stats
    assert stats["ground_max_m"] < 0.02 and stats["track_max_m"] < 0.02, stats
    assert stats["flat_max_m"] < 0.02 and len(feet["flat"]) > 5, stats
    return stats


@pytest.mark.parametrize("rig", ["mixamo", "bandai", "cc"])
def test_presets_keep_angles_and_ground(tmp_path: Path, walk: np.ndarray, rig: str) -> None:
    write_bvh_on_rig(tmp_path / "out.bvh", walk, rig)
    template = parse_bvh(preset_text(rig))
    check_export(walk, tmp_path / "out.bvh", template, template.motion[0], rig)


def test_user_mixamo_rig_file(tmp_path: Path, walk: np.ndarray) -> None:
    rig = write_user_mixamo(tmp_path / "character.bvh")
    clip = read_bvh(rig)
    write_bvh_on_rig(tmp_path / "out.bvh", walk, rig)
    check_export(walk, tmp_path / "out.bvh", clip, clip.motion[0], "mixamo")
    text = (tmp_path / "out.bvh").read_text()
    assert text.split("MOTION")[0] == rig.read_text().split("MOTION")[0]  # the user's hierarchy, verbatim
    # the hips carry the path, scaled by the legs' length (the rig's in cm over the motion's in m)
    out = read_bvh(tmp_path / "out.bvh")
    hips = out.global_positions()[:, 0, [0, 2]]  # (T, 2) cm
    rig_leg = (45.0**2 + 2**2) ** 0.5 + (43.0**2 + 4**2) ** 0.5
    src_leg = np.linalg.norm(walk[:, [4, 7, 5, 8]] - walk[:, [1, 4, 2, 5]], axis=-1).sum(-1).mean() / 2
    travel = np.linalg.norm(walk[-1, 0, [0, 2]] - walk[0, 0, [0, 2]])
    travel_ratio = np.linalg.norm(hips[-1] - hips[0]) / travel
    assert travel_ratio == pytest.approx(rig_leg / src_leg, rel=1e-3)


def test_first_frame_as_reference(tmp_path: Path, walk: np.ndarray) -> None:
    """rig_pose="first" takes frame 0 as the reference; the file's rest pose gives the same angles."""
    rig = write_user_mixamo(tmp_path / "character.bvh")
    write_bvh_on_rig(tmp_path / "rest.bvh", walk, rig, rig_pose="rest")
    write_bvh_on_rig(tmp_path / "first.bvh", walk, rig, rig_pose="first")
    a = knee_elbow_angles(bvh_to_joints(tmp_path / "rest.bvh").astype(np.float64))
    b = knee_elbow_angles(bvh_to_joints(tmp_path / "first.bvh").astype(np.float64))
    assert np.abs(a - b).max() < 0.1


def test_cc_preset_is_z_up(tmp_path: Path, walk: np.ndarray) -> None:
    write_bvh_on_rig(tmp_path / "cc.bvh", walk, "cc")
    clip = read_bvh(tmp_path / "cc.bvh")
    pos = clip.global_positions()
    head, ankle = clip.names.index("CC_Base_Head"), clip.names.index("CC_Base_L_Foot")
    assert (pos[:, head, 2] - pos[:, ankle, 2] > 100).all()  # centimetres, Z up
    assert np.abs(pos[:, head, 1] - pos[:, ankle, 1]).max() < 60


def test_motion_save_bvh_with_rig(tmp_path: Path, walk: np.ndarray) -> None:
    from motiongpt.lm.pipeline import Motion

    motion = Motion.from_joints(walk.astype(np.float32))
    path = motion.save_bvh(tmp_path / "walk.bvh", rig="mixamo")
    assert read_bvh(path).names[0] == "mixamorig:Hips"
    assert read_bvh(motion.save_bvh(tmp_path / "own.bvh")).names[0] == "pelvis"  # default: smpl


def test_bad_rigs(tmp_path: Path, walk: np.ndarray) -> None:
    with pytest.raises(BVHError, match="rig must be one of smpl, mixamo, bandai, cc or a .bvh file"):
        write_bvh_on_rig(tmp_path / "a.bvh", walk, "maya")
    with pytest.raises(FileNotFoundError):
        write_bvh_on_rig(tmp_path / "a.bvh", walk, tmp_path / "absent.bvh")
    (tmp_path / "robot.bvh").write_text(
        "HIERARCHY\nROOT base\n{\nOFFSET 0 0 0\nCHANNELS 3 Zrotation Xrotation Yrotation\n"
        "End Site\n{\nOFFSET 0 1 0\n}\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n"
    )
    with pytest.raises(BVHError, match="robot.bvh: unknown rig"):
        write_bvh_on_rig(tmp_path / "a.bvh", walk, tmp_path / "robot.bvh")
    with pytest.raises(InvalidMotionError, match="joints"):
        write_bvh_on_rig(tmp_path / "a.bvh", walk[:, :21], "mixamo")
    assert not (tmp_path / "a.bvh").exists()


def run_cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*MOTIONGPT_CLI, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_convert_cli_onto_rigs(tmp_path: Path) -> None:
    result = run_cli("convert", EXAMPLE_BVH, tmp_path / "walk_mixamo.bvh", "--rig", "mixamo")
    assert result.returncode == 0, result.stderr
    assert read_bvh(tmp_path / "walk_mixamo.bvh").names[0] == "mixamorig:Hips"
    rig = write_user_mixamo(tmp_path / "character.bvh")
    result = run_cli("convert", EXAMPLE_BVH, tmp_path / "walk_character.bvh", "--rig", rig)
    assert result.returncode == 0, result.stderr
    assert read_bvh(tmp_path / "walk_character.bvh").n_frames == 57
    for bad, message in [("maya", "rig must be one of"), (tmp_path / "absent.bvh", "file not found")]:
        result = run_cli("convert", EXAMPLE_BVH, tmp_path / "bad.bvh", "--rig", bad)
        assert result.returncode == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.bvh").exists()


def test_generate_cli_refuses_a_bad_rig_before_the_model(tmp_path: Path) -> None:
    result = run_cli("generate", "a person walks", "--rig", tmp_path / "absent.bvh", "--out", tmp_path / "m")
    assert result.returncode == 2 and "file not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_generate_cli_onto_mixamo(tmp_path: Path, tiny_dirs: dict[str, Path]) -> None:
    """``generate --rig mixamo`` with a tiny random model: the .bvh is on the Mixamo preset."""
    from test_lm_fixtures import save_tiny_bundle

    bundle = save_tiny_bundle(tmp_path / "mg", tiny_dirs["causal"], finetune="lora")
    result = run_cli("generate", "a person walks", "--model", bundle, "--rig", "mixamo", "--seconds", "1.2",
                     "--seed", "0", "--no-video", "--out", tmp_path / "walk")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = read_bvh(tmp_path / "walk.bvh")
    assert out.names == parse_bvh(preset_text("mixamo")).names
    assert out.n_frames == len(np.load(tmp_path / "walk.npy"))


BLENDER_SCRIPT = """
import builtins, json, sys
_open = builtins.open
builtins.open = lambda f, mode="r", *a, **k: _open(f, mode.replace("U", ""), *a, **k)
import bpy
src, dst = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=src, global_scale=1.0, use_fps_scale=False, rotate_mode="NATIVE",
                        axis_forward="-Z", axis_up="Y")
arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
start, end = (int(f) for f in arm.animation_data.action.frame_range)
out = {"frames": [start, end], "heads": {}}
for f in (start, (start + end) // 2, end):
    bpy.context.scene.frame_set(f)
    out["heads"][f] = {b.name: list(arm.matrix_world @ b.head) for b in arm.pose.bones}
json.dump(out, open(dst, "w"))
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender not installed (apt-get install blender)")
def test_blender_imports_mixamo_output(tmp_path: Path, walk: np.ndarray) -> None:
    """Blender's own BVH importer reads the Mixamo-rig file; its joints match our reader's."""
    write_bvh_on_rig(tmp_path / "walk_mixamo.bvh", walk, "mixamo")
    (tmp_path / "read.py").write_text(BLENDER_SCRIPT)
    subprocess.run(["blender", "-b", "--python", tmp_path / "read.py", "--", tmp_path / "walk_mixamo.bvh",
                    tmp_path / "out.json"], check=True, capture_output=True, timeout=300)  # fmt: skip
    got = json.loads((tmp_path / "out.json").read_text())
    clip = read_bvh(tmp_path / "walk_mixamo.bvh")
    pos = clip.global_positions()  # (T, J, 3) cm, Y up
    assert got["frames"][1] - got["frames"][0] + 1 == clip.n_frames
    for frame, heads in got["heads"].items():
        t = int(frame) - got["frames"][0]
        assert len(heads) == len([n for n in clip.names if not n.endswith("_end")])
        for name, (x, y, z) in heads.items():
            np.testing.assert_allclose((x, z, -y), pos[t, clip.names.index(name)], atol=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bandai_bow", "cmu_walk"])
def test_real_rig_files(tmp_path: Path, walk: np.ndarray, name: str) -> None:
    """A Bandai Namco clip (its rest pose lies along X) and a CMU clip on the 97-joint Character Creator
    rig (Z up, the translation on RL_BoneRoot above the hips) as target rigs, their first frame the
    reference pose."""
    from conftest import shared_data
    from test_bvh_real import CLIPS, extract

    archive, member, preset, _ = CLIPS[name]
    rig = extract(shared_data(*archive.split("/")), {member}, tmp_path)[member]
    clip = read_bvh(rig)
    write_bvh_on_rig(tmp_path / "out.bvh", walk, rig, rig_pose="first")
    check_export(walk, tmp_path / "out.bvh", clip, clip.motion[0], preset)  # 2 cm, 5 degrees


@pytest.mark.slow
def test_a_standing_motion_onto_every_rig(tmp_path: Path) -> None:
    """A real Bandai Namco bow (long stretches on both feet, one foot shuffling) onto the presets, a user's
    Mixamo file and the real Bandai and Character Creator rigs: both feet planted at once is where other
    leg proportions put one foot into the floor and the other above it, unless the legs are fitted."""
    from conftest import shared_data
    from test_bvh_real import CLIPS, extract

    files = {}
    for name in ("bandai_bow", "cmu_walk"):
        archive, member, preset, _ = CLIPS[name]
        files[name] = (extract(shared_data(*archive.split("/")), {member}, tmp_path)[member], preset)
    bow = bvh_to_joints(files["bandai_bow"][0]).astype(np.float64)  # (T, 22, 3) the motion
    rigs = [(rig, parse_bvh(preset_text(rig)), rig, "auto") for rig in ("mixamo", "bandai", "cc")]
    user = write_user_mixamo(tmp_path / "character.bvh")
    rigs += [(user, read_bvh(user), "mixamo", "auto")]
    rigs += [(path, read_bvh(path), preset, "first") for path, preset in files.values()]
    for rig, clip, preset, pose in rigs:
        write_bvh_on_rig(tmp_path / "out.bvh", bow, rig, rig_pose=pose)
        check_export(bow, tmp_path / "out.bvh", clip, clip.motion[0], preset)  # 2 cm, 5 degrees


def test_demo_batch_onto_a_rig(tmp_path: Path, walk: np.ndarray) -> None:
    """``run_demo`` (the ``demo`` command) writes every .bvh on the rig; a bad rig fails before the model."""
    from motiongpt.demo import run_demo
    from motiongpt.lm.pipeline import Motion

    class Model:  # stands in for MotionGPT: one walk per prompt
        def generate_motion_batch(self, texts: list[str], **_: object) -> list[Motion]:
            return [Motion.from_joints(walk.astype(np.float32)) for _ in texts]

    (tmp_path / "prompts.txt").write_text("a person walks\na person walks on\n")
    summary = run_demo(Model, "t2m", tmp_path / "prompts.txt", tmp_path / "out", rig="bandai", progress=False)
    assert summary.written == [1, 2]
    assert read_bvh(tmp_path / "out" / "001.bvh").names == parse_bvh(preset_text("bandai")).names

    def no_model() -> None:
        raise AssertionError("the model must not load for a bad rig")

    with pytest.raises(BVHError, match="rig must be one of"):
        run_demo(no_model, "t2m", tmp_path / "prompts.txt", tmp_path / "other", rig="maya", progress=False)
    assert not (tmp_path / "other").exists()


def test_rig_export_benchmark_reports_feet_and_angles(tmp_path: Path, walk: np.ndarray) -> None:
    """``benchmarks/rig_export.py`` on a one-clip corpus (the walk): JSON per rig within the bounds."""
    (tmp_path / "new_joints").mkdir()
    np.save(tmp_path / "new_joints" / "walk.npy", walk.astype(np.float32))
    (tmp_path / "test.txt").write_text("walk\n")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "rig_export.py"
    result = subprocess.run([sys.executable, str(script), "--data", str(tmp_path), "--clips", "1"],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clips"] == 1 and set(report["rigs"]) == {"mixamo", "bandai", "cc", "user_mixamo_file"}
    for stats in report["rigs"].values():
        assert stats["planted_feet"] > 20 and stats["over_2cm"] == 0, stats
        assert stats["angle_err_max_deg"] < 5 and stats["ground_max_m"] < 0.02
        assert 0 < stats["track_max_m"] < 0.02
