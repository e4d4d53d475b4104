"""The motion sources behind the corpus: Bandai Namco (datasets 1 and 2) and CMU, read from their archives.

Each archive is unpacked once into a cache folder keyed by its name, size and modification time
(``unpack``), then ``list_clips`` returns one ``SourceClip`` per BVH file with its labels or description.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from motiongpt.data.captions import cmu_group
from motiongpt.errors import CorpusError

log = logging.getLogger(__name__)

BANDAI_ARCHIVE = "bandai-namco/bandai-namco-motion.tar.xz"
CMU_ARCHIVE = "cmu-mocap/cmu-mocap.tar.xz"

BANDAI_LICENCE = "CC BY-NC 4.0"
BANDAI_ATTRIBUTION = (
    "Bandai-Namco-Research-Motiondataset, (c) 2022 Bandai Namco Research Inc., CC BY-NC 4.0: "
    "non-commercial use only; models trained on it inherit the non-commercial condition."
)
CMU_LICENCE = "CMU Graphics Lab Motion Capture Database: free for research and commercial use"
CMU_ACKNOWLEDGEMENT = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. "
    "The database was created with funding from NSF EIA-0196217."
)

SOURCES = ("bandai-namco-1", "bandai-namco-2", "cmu")


@dataclass(frozen=True)
class SourceClip:
    """One BVH file of a source archive.

    Attributes:
        key: unique, filesystem-safe clip name, e.g. ``"bn2_walk_active_001"`` or ``"cmu_001_01"``.
        source: one of ``SOURCES``.
        archive: the archive, relative to the ``--source`` folder.
        member: the BVH file's path inside the archive.
        path: the unpacked BVH file.
        group: the content stratum used for the split.
        content, style: Bandai Namco labels (None for CMU).
        description: CMU ``Motion Description`` (None for Bandai Namco).
    """

    key: str
    source: str
    archive: str
    member: str
    path: Path
    group: str
    content: str | None = None
    style: str | None = None
    description: str | None = None

    @property
    def licence(self) -> str:
        return CMU_LICENCE if self.source == "cmu" else BANDAI_LICENCE


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/motiongpt/sources`` (``~/.cache/motiongpt/sources``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "motiongpt" / "sources"


def unpack(archive: Path, cache_dir: Path) -> Path:
    """Unpack ``archive`` into ``cache_dir`` once; return the folder holding its contents.

    The folder is named after the archive's name, size and mtime, and appears atomically (unpacked into a
    temporary sibling, then renamed), so an interrupted unpack is never mistaken for a complete one.
    """
    if not archive.is_file():
        raise CorpusError(f"source archive not found: {archive}")
    st = archive.stat()
    stem = archive.name.split(".")[0]
    target = cache_dir / f"{stem}-{st.st_size}-{int(st.st_mtime)}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=cache_dir))
    log.info("unpacking %s into %s", archive, target)
    try:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():  # another process won the race otherwise
                raise
    except (tarfile.TarError, EOFError, OSError) as e:
        raise CorpusError(f"cannot unpack {archive}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _labels(path: Path, prefix: str) -> list[str]:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [ln.removeprefix(prefix) for ln in lines]


def list_bandai(root: Path) -> list[SourceClip]:
    """Clips of both Bandai Namco datasets under an unpacked archive ``root``."""
    clips = []
    for n in (1, 2):
        base = root / "dataset" / f"Bandai-Namco-Research-Motiondataset-{n}"
        if not base.is_dir():
            raise CorpusError(f"Bandai Namco archive has no {base.relative_to(root)}/ folder")
        contents = _labels(base / "cfg" / "content_label.txt", f"dataset-{n}_")
        styles = _labels(base / "cfg" / "style_label.txt", f"dataset-{n}_")
        for bvh in sorted((base / "data").glob("*.bvh")):
            meta = bvh.with_suffix(".json")
            try:
                labels = json.loads(meta.read_text(encoding="utf-8"))
                content, style = contents[labels["content"]], styles[labels["style"]]
            except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
                raise CorpusError(f"{meta}: cannot read content/style labels: {e}") from None
            take = bvh.stem.rsplit("_", 1)[-1]
            clips.append(
                SourceClip(
                    key=f"bn{n}_{content}_{style}_{take}",
                    source=f"bandai-namco-{n}",
                    archive=BANDAI_ARCHIVE,
                    member=bvh.relative_to(root).as_posix(),
                    path=bvh,
                    # dataset-2 has ~41 takes per (content, style): stratify on both
                    group=f"bn{n}/{content}" + (f"/{style}" if n == 2 else ""),
                    content=content,
                    style=style,
                )
            )
    return clips


def read_cmu_descriptions(csv_path: Path) -> dict[tuple[int, int], str]:
    """``(subject, trial) -> Motion Description`` from ``CMU data.csv``."""
    if not csv_path.is_file():
        raise CorpusError(f"CMU archive has no description table {csv_path.name}")
    out = {}
    with open(csv_path, encoding="utf-8", errors="replace", newline="") as f:
        for row in csv.DictReader(f):
            try:
                out[int(row["Subject"]), int(row["Trial #"])] = row["Motion Description"].strip()
            except (KeyError, ValueError, TypeError):
                continue
    return out


def list_cmu(root: Path) -> list[SourceClip]:
    """CMU clips under an unpacked ``root`` with their descriptions; clips without one are skipped."""
    base = root / "cmu-mocap"
    descriptions = read_cmu_descriptions(base / "CMU data.csv")
    clips = []
    for bvh in sorted((base / "All_BVH" / "subjects").glob("*/*.bvh")):
        try:
            subject, trial = (int(x) for x in bvh.stem.split("_"))
        except ValueError:
            log.warning("skipping %s: name is not SUBJECT_TRIAL.bvh", bvh)
            continue
        desc = descriptions.get((subject, trial))
        if not desc:
            log.warning("skipping %s: no description in CMU data.csv", bvh)
            continue
        clips.append(
            SourceClip(
                key=f"cmu_{subject:03d}_{trial:02d}",
                source="cmu",
                archive=CMU_ARCHIVE,
                member=bvh.relative_to(root).as_posix(),
                path=bvh,
                group=f"cmu/{cmu_group(desc)}",
                description=desc,
            )
        )
    if not clips:
        raise CorpusError(f"no CMU BVH clips found under {base / 'All_BVH' / 'subjects'}")
    return clips


def list_clips(source: Path, cache_dir: Path) -> list[SourceClip]:
    """All clips of the Bandai Namco and CMU archives under the ``source`` folder (``../shared/data``)."""
    if not source.is_dir():
        raise CorpusError(f"source folder not found: {source}")
    clips = list_bandai(unpack(source / BANDAI_ARCHIVE, cache_dir))
    clips += list_cmu(unpack(source / CMU_ARCHIVE, cache_dir))
    keys = [c.key for c in clips]
    if len(set(keys)) != len(keys):
        raise CorpusError("source clips have duplicate names; the archives are not the expected ones")
    return clips
