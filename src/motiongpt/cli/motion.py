"""``motiongpt render``, ``convert`` and ``fit-smpl``: motion files in, motion files out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motiongpt.cli._app import app, user_errors
from motiongpt.errors import InvalidRequestError


@app.command()
@user_errors
def render(
    src: Annotated[Path, typer.Argument(help="Motion to draw: .npy joints (T,22,3) or .bvh.")],
    dst: Annotated[Path, typer.Argument(help="Video to write: .mp4 (H.264) or .gif, 320x320, 20 fps.")],
    title: Annotated[str | None, typer.Option(help="Text shown at the top, e.g. the prompt.")] = None,
) -> None:
    """Render a motion as a skeleton video."""
    from motiongpt.motion.io import load_joints
    from motiongpt.render import VIDEO_SUFFIXES, render_video

    if dst.suffix.lower() not in VIDEO_SUFFIXES:
        raise InvalidRequestError(f"DST must end in {' or '.join(VIDEO_SUFFIXES)}, got {dst}")
    joints = load_joints(src)
    existed = dst.exists()
    render_video(joints, dst, title=title)
    typer.echo(f"wrote {dst} ({len(joints)} frames)" + (" (replaced)" if existed else ""))


@app.command()
@user_errors
def convert(
    src: Annotated[Path, typer.Argument(help="Input .bvh, .npy joints (T,22,3) or features (T,263).")],
    dst: Annotated[Path, typer.Argument(help="Output .bvh, .npy joints, or .features.npy (T-1,263).")],
    rig: Annotated[
        str | None,
        typer.Option(
            help="A .bvh DST's skeleton: smpl (default), mixamo, bandai, cc or a rig .bvh file; "
            "else the .bvh SRC's rig: bandai, cc, smpl or mixamo (default: detect)."
        ),
    ] = None,
    up: Annotated[str | None, typer.Option(help="BVH up axis: Y, Z or X (default: detect).")] = None,
    features: Annotated[bool, typer.Option("--features", help="Write features (T-1, 263).")] = False,
) -> None:
    """Convert motion between BVH, joint positions and HumanML3D features."""
    from motiongpt.motion.io import convert_motion

    if dst.resolve() == src.resolve():
        from motiongpt.errors import InvalidRequestError

        raise InvalidRequestError(f"{dst} is the input: writing it would destroy it; choose another output")
    existed = dst.exists()
    to_bvh = dst.suffix.lower() == ".bvh"  # --rig is the output's skeleton, else the input's rig
    shape = convert_motion(src, dst, rig=None if to_bvh else rig, up=up, features=features,
                           out_rig=(rig or "smpl") if to_bvh else "smpl")  # fmt: skip
    typer.echo(f"wrote {dst} {shape}" + (" (replaced)" if existed else ""))


@app.command("fit-smpl")
@user_errors
def fit_smpl_cmd(
    src: Annotated[Path, typer.Argument(help="Motion: .npy joints (T,22,3), metres, Y up, or .bvh.")],
    smpl_dir: Annotated[
        Path,
        typer.Option(help="Folder with SMPL_NEUTRAL.pkl or .npz (from smpl.is.tue.mpg.de)."),
    ],
    out: Annotated[
        Path, typer.Option(help="Output prefix: PREFIX_verts.npy, PREFIX_smpl.npz, PREFIX_obj/, PREFIX.mp4.")
    ],
    video: Annotated[
        bool, typer.Option("--video", help="Also PREFIX.mp4: the fit's skeleton and vertices.")
    ] = False,
    obj: Annotated[bool, typer.Option(help="Write PREFIX_obj/: one .obj mesh per frame.")] = True,
    fit_shape: Annotated[bool, typer.Option("--fit-shape", help="Fit one body shape (betas).")] = False,
    gender: Annotated[str, typer.Option(help="Which SMPL model: neutral, male or female.")] = "neutral",
    iterations: Annotated[int, typer.Option(min=0, help="Optimiser steps after the analytic guess.")] = 300,
) -> None:
    """Fit the SMPL body mesh to a motion's joints: vertices (.npy, .obj per frame), SMPL parameters."""
    from motiongpt.motion.io import load_joints
    from motiongpt.motion.smpl_fit import fit_smpl

    outputs = [out.with_name(out.name + s) for s in ("_verts.npy", "_smpl.npz", "_obj", ".mp4")]
    if src.resolve() in {p.resolve() for p in outputs}:
        raise InvalidRequestError(f"--out {out} would overwrite the input {src}; choose another --out")
    joints = load_joints(src)
    fit = fit_smpl(joints, smpl_dir, gender=gender, fit_betas=fit_shape, iterations=iterations)
    writer = None
    if video:
        from motiongpt.render import render_video as writer
    files = fit.save(out, obj=obj, video=writer, title=f"SMPL fit: {src.name}")
    written = [files.vertices, files.params] + [p for p in (files.obj_dir, files.video) if p is not None]
    typer.echo(f"fitted SMPL ({fit.vertices.shape[1]} vertices) to {len(joints)} frames: "
               + ", ".join(map(str, written)))  # fmt: skip
    typer.echo(f"mean joint error: {fit.error_mm:.1f} mm")
