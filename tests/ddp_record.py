"""Run the ``motiongpt`` CLI, recording which item positions each process trained on.

Usage: RECORD_DIR=folder python tests/ddp_record.py motiongpt-arguments...

Lightning's DDP launcher starts the other processes with this same command line and environment, so every
rank records: ``RECORD_DIR/rank-{r}.json`` holds ``{step: [positions]}`` of the batches rank ``r`` drew
(a helper of tests/test_distributed.py, not a test module).
"""

from __future__ import annotations

import atexit
import json
import os
from collections import defaultdict
from pathlib import Path

from motiongpt.training import StepSampler

record_dir = Path(os.environ["RECORD_DIR"])
seen: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
_iter = StepSampler.__iter__


def _recording_iter(self: StepSampler):
    for p in _iter(self):
        seen[self.rank][p // self.per_step].append(p)
        yield p


def _write() -> None:
    for rank, steps in seen.items():
        (record_dir / f"rank-{rank}.json").write_text(json.dumps(steps))


StepSampler.__iter__ = _recording_iter  # type: ignore[method-assign]
atexit.register(_write)
from motiongpt.cli import app  # noqa: E402

app(prog_name="motiongpt")
