"""The paper-style results table for a protocol result (``protocol.evaluate_*``)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_table"]

_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "t2m": [
        ("r_precision_top1", "R@1↑"),
        ("r_precision_top2", "R@2↑"),
        ("r_precision_top3", "R@3↑"),
        ("fid", "FID↓"),
        ("mm_dist", "MMDist↓"),
        ("diversity", "Div→"),
        ("multimodality", "MModality↑"),
    ],
    "m2t": [
        ("r_precision_top1", "R@1↑"),
        ("r_precision_top2", "R@2↑"),
        ("r_precision_top3", "R@3↑"),
        ("mm_dist", "MMDist↓"),
        ("captioning.bleu_1", "BLEU@1↑"),
        ("captioning.bleu_4", "BLEU@4↑"),
        ("captioning.rouge_l", "ROUGE-L↑"),
        ("captioning.cider", "CIDEr↑"),
        ("captioning.meteor", "METEOR↑"),
        ("captioning.bertscore_f1", "BERTScore↑"),
    ],
    "pred": [("fid", "FID↓"), ("diversity", "Div→"), ("ade", "ADE↓"), ("fde", "FDE↓")],
    "inbetween": [("fid", "FID↓"), ("diversity", "Div→"), ("ade", "ADE↓"), ("fde", "FDE↓")],
}
_DISTINCT = [
    ("r_precision_distinct_top1", "R@1"),
    ("r_precision_distinct_top2", "R@2"),
    ("r_precision_distinct_top3", "R@3"),
]


def _cell(row: dict[str, Any], key: str) -> str:
    node: Any = row
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return "-"
    if isinstance(node, dict):
        return f"{node['mean']:.3f}±{node['ci95']:.3f}"
    return f"{float(node):.3f}"


def format_table(result: dict[str, Any]) -> str:
    """Rows Real, baselines, model; the task's columns; mean±95 % CI. Plain text, fixed width."""
    cols = _COLUMNS[result["task"]]
    rows = result["rows"]
    if any("r_precision_distinct_top1" in r for r in rows.values()):
        cols = cols + [(k, f"distinct {h}") for k, h in _DISTINCT]
    names = list(rows)
    table = [["Method", *[h for _, h in cols]]] + [[n, *[_cell(rows[n], k) for k, _ in cols]] for n in names]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = (
        f"task {result['task']}  replications {result['replications']}  seed {result['seed']}  "
        f"evaluator {result['evaluator'].get('path') or '(in memory)'}  items {result['data']['items']}"
    )
    return "\n".join([head, *lines, *[f"note: {n}" for n in result.get("notes", [])]])
