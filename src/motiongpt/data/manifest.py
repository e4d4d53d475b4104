"""``corpus.json``, the manifest ``build_corpus`` writes next to a HumanML3D-format corpus, read typed.

The file (``format_version`` 1)::

    {"format": "humanml3d", "format_version": 1, "fps": 20, "feature_dim": 263, "seed": 0, ...,
     "clips": {"bn1_bow_active_001_w0": {"source": "bandai-namco-1", "source_clip": ..., "split": "train",
               "templated": true, "content": "bow", "style": "active", ...}, ...},
     "summary": {... CorpusSummary ..., "templated_share": 0.99}}

``read_manifest(root)`` returns a :class:`CorpusManifest`; a corpus without the file (the original
HumanML3D release) gives an empty one. Every reader of ``corpus.json`` goes through here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motiongpt.data.humanml3d import clip_of
from motiongpt.errors import CorpusError

MANIFEST = "corpus.json"


@dataclass(frozen=True)
class ClipEntry:
    """One clip (window) of the manifest.

    Attributes:
        source: the corpus source (``"bandai-namco-1"``, ``"cmu"``, ...).
        source_clip: the source clip the window was cut from.
        split: ``"train"``, ``"val"`` or ``"test"``.
        templated: its captions were generated from labels, not written by people.
        content, style: Bandai Namco labels (None for other sources).
        description: the CMU trial description (None for other sources).
    """

    source: str | None = None
    source_clip: str | None = None
    split: str | None = None
    templated: bool = False
    content: str | None = None
    style: str | None = None
    description: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClipEntry:
        return cls(d.get("source"), d.get("source_clip"), d.get("split"), bool(d.get("templated", False)),
                   d.get("content"), d.get("style"), d.get("description"))  # fmt: skip


@dataclass(frozen=True)
class CorpusManifest:
    """The manifest of a corpus (empty when the corpus has none).

    Attributes:
        clips: clip name -> :class:`ClipEntry`.
        header: the other top-level fields (format, fps, seed, windowing, licences, summary, ...).
    """

    clips: Mapping[str, ClipEntry] = field(default_factory=dict)
    header: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> Mapping[str, Any]:
        """The build's ``CorpusSummary`` as written (``{}`` when absent)."""
        s = self.header.get("summary")
        return s if isinstance(s, dict) else {}

    @property
    def templated_share(self) -> float | None:
        """The share of caption lines templated from labels (``CorpusSummary.templated_share``)."""
        share = self.summary.get("templated_share")
        return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None

    def entry(self, name: str) -> ClipEntry:
        """The entry of a clip or of one of its time spans (``"name#start#end"``); empty if unlisted."""
        return self.clips.get(clip_of(name), ClipEntry())

    def descriptions(self, *splits: str) -> list[str]:
        """The distinct CMU descriptions of the clips of ``splits``, sorted (``"val", "test"``: those to
        keep out of text-only training data)."""
        return sorted({e.description for e in self.clips.values() if e.split in splits and e.description})


def read_manifest(corpus: str | os.PathLike) -> CorpusManifest:
    """``corpus/corpus.json`` (an empty manifest when there is none); CorpusError if it is not JSON."""
    path = Path(corpus) / MANIFEST
    if not path.is_file():
        return CorpusManifest()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise CorpusError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(data, dict):
        return CorpusManifest()
    clips = data.get("clips", {})
    clips = clips if isinstance(clips, dict) else {}
    entries = {name: ClipEntry.from_dict(e) for name, e in clips.items() if isinstance(e, dict)}
    return CorpusManifest(entries, {k: v for k, v in data.items() if k != "clips"})


__all__ = ["MANIFEST", "ClipEntry", "CorpusManifest", "read_manifest"]
