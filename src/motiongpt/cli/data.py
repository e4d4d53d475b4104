"""``motiongpt data build`` and ``tokenize``: the corpus and its motion tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motiongpt.cli._app import BatchSize, CorpusDir, Device, _tokenizer_dir, app, data_app, user_errors


@data_app.command("build")
@user_errors
def data_build(
    out: Annotated[Path, typer.Option(help="Corpus folder to write (HumanML3D format).")],
    source: Annotated[Path, typer.Option(help="Shared data folder with the motion archives.")] = Path(
        "../shared/data"
    ),
    seed: Annotated[int, typer.Option(help="Seeds the split and the templated captions.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes for BVH parsing and features.")] = 2,
    limit: Annotated[int | None, typer.Option(help="At most N source clips per source.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Where archives are unpacked.")] = None,
    force: Annotated[bool, typer.Option(help="Replace a non-empty folder that is not a corpus.")] = False,
) -> None:
    """Build a HumanML3D-format corpus from the Bandai Namco and CMU archives."""
    from motiongpt.data import build_corpus

    summary = build_corpus(source, out, seed=seed, workers=workers, limit=limit, cache_dir=cache, force=force)
    typer.echo(summary.format())


@app.command()
@user_errors
def tokenize(
    data: CorpusDir,
    tokenizer: Annotated[
        Path | None, typer.Option(help="Tokenizer folder (default: the bundled model's tokenizer).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: TOKENIZER/tokens; ./tokens for the bundled one)."),
    ] = None,
    batch_size: BatchSize = 256,
    device: Device = "cpu",
    mirror: Annotated[
        bool, typer.Option(help="Also write OUT/train.mirror.npz: the train split mirrored left/right.")
    ] = False,
) -> None:
    """Encode every clip of every split to motion tokens: OUT/{split}.npz."""
    from motiongpt.tokenizer.tokenize import tokenize_corpus

    if tokenizer is None or str(tokenizer) == "default" and not tokenizer.is_dir():
        out = out or Path("tokens")  # never into the installed package
    written = tokenize_corpus(
        _tokenizer_dir(tokenizer), data, out, batch_size=batch_size, device=device, mirror=mirror
    )
    for split, path in written.items():
        typer.echo(f"{split}: {path}")
