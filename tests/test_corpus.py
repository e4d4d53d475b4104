"""The corpus builder on small synthetic archives (stub motion functions) and on the real ones (slow)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import MOTIONGPT_CLI, shared_data
from motiongpt.data import HumanML3D, build_corpus
from motiongpt.data import corpus as corpus_mod
from motiongpt.data.corpus import assign_splits, limit_clips, windows
from motiongpt.data.sources import SourceClip
from motiongpt.errors import CorpusError

# --- synthetic archives in the real layout; a "BVH" here is just its frame count --------------------------

_B1 = {"content": ["walk", "bow", "kick"], "style": ["normal", "tired", "happy"]}
_B2 = {"content": ["walk", "wave-left-hand"], "style": ["normal", "elderly"]}
_CMU = {
    (1, 1): ("playground - forward jumps, turn around", 900),
    (2, 1): ("walk", 200),
    (2, 2): ("walk", 170),
    (2, 3): ("run/jog", 90),
    (5, 2): ("dance - expressive arms, pirouette", 562),
    (5, 3): ("dance - sideways arabesque, turn step", 216),
}


def _add(tf: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode("utf-8")
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def _write_archives(root: Path) -> Path:
    (root / "bandai-namco").mkdir(parents=True)
    (root / "cmu-mocap").mkdir()
    with tarfile.open(root / "bandai-namco" / "bandai-namco-motion.tar.xz", "w:xz") as tf:
        for n, labels, takes in ((1, _B1, 1), (2, _B2, 4)):
            base = f"dataset/Bandai-Namco-Research-Motiondataset-{n}"
            for kind in ("content", "style"):
                _add(tf, f"{base}/cfg/{kind}_label.txt", "\n".join(f"dataset-{n}_{x}" for x in labels[kind]))
            for ci, c in enumerate(labels["content"]):
                for si, s in enumerate(labels["style"]):
                    for take in range(1, takes + 1):
                        stem = f"{base}/data/dataset-{n}_{c}_{s}_{take:03d}"
                        frames = (
                            150
                            + 20 * take
                            + (300 if c == "walk" and n == 1 else 0)
                            - (135 if s == "tired" else 0)
                        )
                        _add(tf, stem + ".bvh", str(frames))
                        _add(tf, stem + ".json", json.dumps({"content": ci, "style": si}))
    with tarfile.open(root / "cmu-mocap" / "cmu-mocap.tar.xz", "w:xz") as tf:
        rows = ['"Subject","Trial #","Motion Description","framerate","Frames 60fps"']
        for (subj, trial), (desc, frames) in _CMU.items():
            rows.append(f'{subj},{trial},"{desc}",120,{frames}')
            _add(tf, f"cmu-mocap/All_BVH/subjects/{subj:03d}/{subj:03d}_{trial:02d}.bvh", str(frames // 3))
        rows.append('9,9,"a description without motion",120,100')
        _add(tf, "cmu-mocap/CMU data.csv", "\n".join(rows) + "\n")
    return root


def _stub_bvh_to_joints(path: str) -> np.ndarray:
    n = int(Path(path).read_text())
    rng = np.random.default_rng(zlib.crc32(Path(path).name.encode()))
    return np.cumsum(rng.normal(0, 0.01, (n, 22, 3)), axis=0).astype(np.float32)  # (T, 22, 3)


def _stub_joints_to_features(j: np.ndarray) -> np.ndarray:
    flat = (j[1:] - j[:-1]).reshape(len(j) - 1, 66)
    return np.concatenate([flat, np.tile(j[1:, 0], (1, 66))[:, :197]], axis=1).astype(
        np.float32
    )  # (T-1, 263)


def _stub_features_to_joints(f: np.ndarray) -> np.ndarray:
    return np.cumsum(f[:, :66].reshape(len(f), 22, 3), axis=0).astype(np.float32)  # (T, 22, 3)


@pytest.fixture
def fake_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(
        corpus_mod,
        "_motion_fns",
        lambda: (_stub_bvh_to_joints, _stub_joints_to_features, _stub_features_to_joints),
    )
    return _write_archives(tmp_path / "shared")


def _build(source: Path, out: Path, seed: int = 0, **kw):  # noqa: ANN202
    return build_corpus(
        source, out, seed=seed, workers=1, cache_dir=source.parent / "cache", progress=False, **kw
    )


# --- pure helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 39, 40, 100, 196, 197, 356, 357, 1000, 4321])
def test_windows_cover_everything_within_bounds(n: int) -> None:
    wins = windows(n)
    if n < 40:
        assert wins == []
        return
    assert all(40 <= b - a <= 196 and 0 <= a < b <= n for a, b in wins)
    covered = np.zeros(n, bool)
    for a, b in wins:
        covered[a:b] = True
    assert covered.all() and wins[0][0] == 0 and wins[-1][1] == n


def _clip(key: str, group: str, source: str = "cmu") -> SourceClip:
    return SourceClip(key, source, "a.tar.xz", key, Path(key), group)


def test_splits_are_stratified_seeded_and_by_clip() -> None:
    clips = [_clip(f"{g}{i:02d}", g) for g, n in (("a", 15), ("b", 41), ("c", 2), ("d", 1)) for i in range(n)]
    split = assign_splits(clips, seed=0)
    assert split == assign_splits(list(reversed(clips)), seed=0)
    assert split != assign_splits(clips, seed=1)
    for g in "abc":
        assert "test" in {split[c.key] for c in clips if c.group == g}
    assert split["d00"] == "train"
    counts = {s: sum(v == s for v in split.values()) for s in ("train", "val", "test")}
    assert counts == {"train": 47, "val": 3, "test": 9}


def test_limit_takes_clips_from_each_group() -> None:
    clips = [_clip(f"{g}{i}", g, src) for src in ("cmu", "bandai-namco-2") for g in "xyz" for i in range(5)]
    picked = limit_clips(clips, 7)
    assert len(picked) == 14
    cmu = [c.key for c in picked if c.source == "cmu"]
    assert cmu == ["x0", "x1", "x2", "y0", "y1", "y2", "z0"]


# --- builds on synthetic archives ----------------------------------------------------------------------


def test_build_writes_a_loadable_corpus(fake_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    summary = _build(fake_source, out)
    for name in ("Mean.npy", "Std.npy", "train.txt", "val.txt", "test.txt", "corpus.json", "build_info.json"):
        assert (out / name).is_file(), name
    assert not (tmp_path / "corpus.tmp").exists()
    manifest = json.loads((out / "corpus.json").read_text())
    names = {s: (out / f"{s}.txt").read_text().split() for s in ("train", "val", "test")}
    all_names = [n for ns in names.values() for n in ns]
    assert sorted(all_names) == sorted(manifest["clips"]) and len(all_names) == summary.windows
    # every window is loadable, 40..196 frames, with 263 features and new_joints beside it
    for split in ("train", "val", "test"):
        ds = HumanML3D(out, split)
        assert sorted(ds.names) == sorted(names[split])
        for clip in ds:
            assert 40 <= len(clip) <= 196 and clip.features.shape[1] == 263
            assert np.load(out / "new_joints" / f"{clip.name}.npy").shape == (len(clip), 22, 3)
    # no source clip has windows in two splits; the manifest's split agrees with the files
    split_of_clip: dict[str, set[str]] = {}
    for split, ns in names.items():
        for n in ns:
            assert manifest["clips"][n]["split"] == split
            split_of_clip.setdefault(manifest["clips"][n]["source_clip"], set()).add(split)
    assert all(len(s) == 1 for s in split_of_clip.values())
    assert names["test"], "a stratified split puts something in test"
    # short clips are skipped and reported; summary is in the manifest
    assert summary.skipped_short == 3 and len(manifest["skipped"]) == 3  # 2 "tired" bn1 clips and run/jog
    assert manifest["summary"] == summary.to_dict(with_time=False)


def test_manifest_marks_templated_captions(fake_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    summary = _build(fake_source, out)
    manifest = json.loads((out / "corpus.json").read_text())
    n_bandai = n_cmu = 0
    for name, e in manifest["clips"].items():
        lines = (out / "texts" / f"{name}.txt").read_text().splitlines()
        assert e["archive"] and e["file"].endswith(".bvh") and len(e["frames_20fps"]) == 2
        if e["source"] == "cmu":
            n_cmu += len(lines)
            assert e["templated"] is False and e["sentence_wrapped"] is True and e["description"]
            assert "free for research and commercial use" in e["licence"]
        else:
            n_bandai += len(lines)
            assert e["templated"] is True and len(lines) == 3
            assert e["caption_source"] == "templated from Bandai Namco content/style labels"
            assert e["licence"] == "CC BY-NC 4.0"
        for line in lines:
            text, tokens, start, end = line.split("#")
            assert text and (start, end) == ("0.0", "0.0")
            assert all(re.fullmatch(r"[a-z]+/[A-Z]+", t) for t in tokens.split())
    assert summary.templated_share == pytest.approx(n_bandai / (n_bandai + n_cmu), abs=1e-4)
    # the 900-frame CMU clip (300 at 20 fps) has two windows and two activities: split in order
    w0, w1 = (out / "texts" / f"cmu_001_01_w{i}.txt" for i in (0, 1))
    assert w0.read_text().startswith("a person is on a playground: forward jumps#")
    assert w1.read_text().startswith("a person is on a playground: turns around#")
    assert manifest["clips"]["cmu_001_01_w0"]["activity_split"] is True
    assert (
        "mocap.cs.cmu.edu" in manifest["licences"]["cmu"] and "BY-NC" in manifest["licences"]["bandai-namco"]
    )


def test_same_seed_gives_identical_outputs(fake_source: Path, tmp_path: Path) -> None:
    _build(fake_source, tmp_path / "a", seed=3)
    _build(fake_source, tmp_path / "b", seed=3)
    _build(fake_source, tmp_path / "c", seed=4)
    for name in ("corpus.json", "train.txt", "val.txt", "test.txt", "Mean.npy", "Std.npy"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    texts = sorted((tmp_path / "a" / "texts").iterdir())
    assert [p.read_bytes() for p in texts] == [
        (tmp_path / "b" / "texts" / p.name).read_bytes() for p in texts
    ]
    assert (tmp_path / "a" / "corpus.json").read_bytes() != (tmp_path / "c" / "corpus.json").read_bytes()


def test_statistics_come_from_train_only(fake_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    _build(fake_source, out)
    manifest = json.loads((out / "corpus.json").read_text())
    train_clips = sorted({e["source_clip"] for e in manifest["clips"].values() if e["split"] == "train"})
    cache = (
        next((fake_source.parent / "cache").glob("bandai*")),
        next((fake_source.parent / "cache").glob("cmu*")),
    )
    feats = []
    for e in {e["source_clip"]: e for e in manifest["clips"].values()}.values():
        if e["source_clip"] in train_clips:
            root = cache[0] if e["source"].startswith("bandai") else cache[1]
            feats.append(_stub_joints_to_features(_stub_bvh_to_joints(str(root / e["file"]))))
    np.testing.assert_allclose(np.load(out / "Mean.npy"), np.concatenate(feats).mean(0), rtol=1e-4, atol=1e-6)


def test_refuses_to_overwrite_a_non_corpus_folder(fake_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    with pytest.raises(CorpusError, match="--force"):
        _build(fake_source, out)
    assert (out / "thesis.tex").exists() and not (tmp_path / "precious.tmp").exists()
    _build(fake_source, out, force=True)
    assert not (out / "thesis.tex").exists() and (out / "corpus.json").exists()
    _build(fake_source, out, limit=2)  # an existing corpus is replaced without --force
    assert json.loads((out / "corpus.json").read_text())["limit"] == 2


def test_missing_archive_is_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="bandai-namco-motion.tar.xz"):
        build_corpus(tmp_path, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "out.tmp").exists()


# --- the real archives ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = shared_data()
    shared_data("bandai-namco", "bandai-namco-motion.tar.xz")
    root = tmp_path_factory.mktemp("real")
    out = root / "corpus"
    cache = Path(__file__).resolve().parents[1] / ".cache" / "sources"  # git-ignored; reused between runs
    proc = subprocess.run(
        [*MOTIONGPT_CLI, "data", "build", "--source", str(source), "--out", str(out),
         "--limit", "4", "--workers", "1", "--cache", str(cache)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "windows" in proc.stdout and "templated" in proc.stdout
    return out


@pytest.mark.slow
def test_cli_builds_from_real_archives(real_build: Path) -> None:
    manifest = json.loads((real_build / "corpus.json").read_text())
    sources = {e["source"] for e in manifest["clips"].values()}
    assert sources == {"bandai-namco-1", "bandai-namco-2", "cmu"}
    ds = HumanML3D(real_build, "train")
    assert len(ds) > 0 and all(np.isfinite(c.features).all() for c in ds)
    for e in manifest["clips"].values():
        assert e["templated"] is (e["source"] != "cmu")


def test_cli_refuses_a_non_corpus_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from motiongpt.cli import app

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("x")
    args = ["data", "build", "--source", str(tmp_path), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "error:" in result.output and "--force" in result.output
