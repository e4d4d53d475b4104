"""The HumanML3D-format loader: items, captions, time spans, length filter, and its errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from motiongpt.data import Caption, HumanML3D, MotionClip
from motiongpt.errors import CorpusError


def test_loads_tiny_corpus(tiny_corpus: Path) -> None:
    ds = HumanML3D(tiny_corpus, "train")
    assert (
        len(ds) == 8 and len(HumanML3D(tiny_corpus, "val")) == 2 and len(HumanML3D(tiny_corpus, "test")) == 2
    )
    clip = ds[0]
    assert isinstance(clip, MotionClip)
    assert clip.features.dtype == np.float32 and clip.features.shape[1] == 263
    assert clip.name == ds.names[0] == "000000"
    assert clip.captions[0] == Caption(
        "a person walks forward", ("a/DET", "person/NOUN", "walk/VERB", "forward/ADV"), 0.0, 0.0
    )
    np.testing.assert_array_equal(clip.features, np.load(tiny_corpus / "new_joint_vecs" / "000000.npy"))
    assert ds.normalizer.normalize(clip.features).shape == clip.features.shape
    assert [c.name for c in ds] == ds.names and len(ds[1:3]) == 2


def test_caption_line_round_trip() -> None:
    cap = Caption("a man runs", ("a/DET", "man/NOUN", "run/VERB"), 1.5, 4.0)
    assert cap.to_line() == "a man runs#a/DET man/NOUN run/VERB#1.5#4.0"
    assert Caption.from_line(cap.to_line()) == cap
    with pytest.raises(ValueError, match="must not contain"):
        Caption("a # b", ()).to_line()


def test_time_span_captions_become_sub_clips(tiny_corpus: Path) -> None:
    feats = np.load(tiny_corpus / "new_joint_vecs" / "000001.npy")
    (tiny_corpus / "texts" / "000001.txt").write_text(
        "someone waves#someone/PRON wave/VERB#0.0#0.0\n"
        "a person turns#a/DET person/NOUN turn/VERB#0.5#2.75\n"
        "the person turns around#the/DET person/NOUN turn/VERB around/ADV#0.5#2.75\n"
        "a person stops#a/DET person/NOUN stop/VERB#0.0#0.5\n",  # 10 frames: below min_frames
        encoding="utf-8",
    )
    ds = HumanML3D(tiny_corpus, "train")
    assert "000001" in ds.names and "000001#0.5#2.75" in ds.names and "000001#0#0.5" not in ds.names
    sub = ds[ds.names.index("000001#0.5#2.75")]
    np.testing.assert_array_equal(sub.features, feats[10:55])
    assert [c.text for c in sub.captions] == ["a person turns", "the person turns around"]
    assert (sub.captions[0].start, sub.captions[0].end) == (0.5, 2.75)
    whole = ds[ds.names.index("000001")]
    assert len(whole) == len(feats) and [c.text for c in whole.captions] == ["someone waves"]


def test_length_filter_and_uncaptioned_clips(tiny_corpus: Path, caplog: pytest.LogCaptureFixture) -> None:
    lengths = {
        n: len(np.load(tiny_corpus / "new_joint_vecs" / f"{n}.npy")) for n in HumanML3D(tiny_corpus).names
    }
    (tiny_corpus / "texts" / "000000.txt").write_text("\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="motiongpt.data.humanml3d"):
        ds = HumanML3D(tiny_corpus, "train", min_frames=60, max_frames=100)
    expected = [n for n, t in lengths.items() if 60 <= t <= 100 and n != "000000"]
    assert ds.names == expected and all(60 <= len(c) <= 100 for c in ds)
    assert "1 clips without captions" in caplog.text


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda r: (r / "Mean.npy").unlink(), "Mean.npy"),
        (lambda r: (r / "new_joint_vecs" / "000003.npy").unlink(), "000003"),
        (lambda r: (r / "texts" / "000003.txt").unlink(), r"000003\.txt"),
        (lambda r: (r / "train.txt").unlink(), "train.txt"),
        (
            lambda r: (r / "texts" / "000002.txt").write_text("a person walks#a/DET#0.0\n"),
            r"000002\.txt:1.*4 '#'",
        ),
        (
            lambda r: (r / "texts" / "000002.txt").write_text("walks#walk/VERB#x#0\n"),
            "start/end must be numbers",
        ),
        (
            lambda r: np.save(r / "new_joint_vecs" / "000004.npy", np.zeros((50, 251), np.float32)),
            r"\(T, 263\)",
        ),
    ],
    ids=["mean", "clip-npy", "clip-text", "split-file", "text-fields", "text-times", "feature-dim"],
)
def test_clear_errors(tiny_corpus: Path, breakage, message: str) -> None:  # noqa: ANN001
    breakage(tiny_corpus)
    with pytest.raises(CorpusError, match=message):
        HumanML3D(tiny_corpus, "train")


def test_bad_arguments(tmp_path: Path, tiny_corpus: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        HumanML3D(tmp_path / "nope")
    with pytest.raises(ValueError, match="split must be one of"):
        HumanML3D(tiny_corpus, "dev")
    with pytest.raises(ValueError, match="min_frames"):
        HumanML3D(tiny_corpus, min_frames=50, max_frames=40)
