"""Skeleton videos: a 22-joint motion drawn as a coloured stick figure over a floor grid, to MP4 or GIF.

The camera looks down at the body from a fixed angle and follows the (smoothed) root over the floor, so
long walks stay large in the frame while the grid scrolls and the root's path is traced on the floor.

How it is drawn fast (7-10 ms a frame at 320x320 on one CPU core, before encoding): a matplotlib
``Figure`` with a ``FigureCanvasAgg`` (never pyplot, which is not thread-safe). A throwaway 3D axes gives
the camera's projection matrix; the joints, shadow, floor grid and trajectory are projected with it in
numpy, and each frame is drawn as a few 2D lines on top of a cached background (the title and the floor)
with ``restore_region`` + ``draw_artist``. MP4 is libx264/yuv420p through imageio-ffmpeg; GIF goes through
Pillow with one palette for the whole clip.

Axes: our data is Y up (metres, 20 fps). It is shown in matplotlib as (x, y, z) = (Z, X, Y), which keeps
the handedness, so a body's left side is drawn on its left.
"""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from motiongpt._io import atomic_path
from motiongpt.errors import InvalidMotionError
from motiongpt.motion.skeleton import FPS, KINEMATIC_CHAIN, N_JOINTS
from motiongpt.motion.validate import check_magnitude

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".gif")

_DPI = 80
_ELEV, _AZIM = 20.0, 35.0  # camera angles in degrees; azim is measured in matplotlib's (Z, X) plane
_FOCAL_LENGTH = 2.0  # matplotlib focal length: the eye is ~20 box sizes away, a mild perspective
_MARGIN = 0.06  # blank space around the body's extent over the clip, as a fraction of it
_FLOOR_SCALE = 8.0  # floor half-width / framed half-width: its far edge stays out of view
_GRID_STEP = 0.5  # metres between floor grid lines
_SMOOTH_FRAMES = 9  # moving-average window of the camera's follow target

# One colour per KINEMATIC_CHAIN entry: right leg, left leg, spine+head, right arm, left arm.
# Right limbs are warm, left limbs cool, so the two sides stay apart even when they cross.
_CHAIN_COLORS = ("#d62728", "#1f5fb4", "#303030", "#ff8c1a", "#2ab0d6")
_CHAIN_WIDTHS = (3.2, 3.2, 3.6, 2.6, 2.6)
_FLOOR_COLOR = "#e8e8e4"
_GRID_COLOR = "#c4c4bc"
_SHADOW_COLOR = "#b5b5ae"
_TRAJ_COLOR = "#8a4fbf"
_POINT_COLOR = "#7f93ad"


# --- helpers --------------------------------------------------------------------------------------------


def _check_joints(joints: Any) -> np.ndarray:
    """Return ``joints`` as a float64 (T, 22, 3) array or raise InvalidMotionError naming what is wrong."""
    try:
        arr = np.asarray(joints, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidMotionError(f"joints must be a numeric array of shape (T, {N_JOINTS}, 3): {e}") from None
    if arr.ndim != 3 or arr.shape[1:] != (N_JOINTS, 3) or arr.shape[0] < 1:
        raise InvalidMotionError(
            f"joints must have shape (T, {N_JOINTS}, 3) with T >= 1, got shape {tuple(arr.shape)}"
        )
    bad = ~np.isfinite(arr).all(axis=(1, 2))
    if bad.any():
        frames = np.flatnonzero(bad)
        shown = ", ".join(map(str, frames[:5])) + (", ..." if len(frames) > 5 else "")
        raise InvalidMotionError(
            f"joints of shape {tuple(arr.shape)} contain NaN or inf in {len(frames)} frame(s): [{shown}]"
        )
    check_magnitude(arr, "joints")  # 1e30 is not metres: the camera maths would overflow
    return arr


def _check_points(points: Any, n_frames: int) -> np.ndarray:
    """``points`` as float64 (T, P, 3) with the joints' T frames, all finite, or InvalidMotionError."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] != n_frames or arr.shape[2] != 3 or arr.shape[1] < 1:
        raise InvalidMotionError(f"points must have shape ({n_frames}, P, 3), got {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise InvalidMotionError(f"points of shape {tuple(arr.shape)} contain NaN or inf")
    check_magnitude(arr, "points")
    return arr


def _check_options(fps: float, size: int) -> None:
    if not (isinstance(fps, int | float) and np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not isinstance(size, int | np.integer) or size < 64 or size % 16:
        raise ValueError(f"size must be an int >= 64 and a multiple of 16 (for H.264), got {size!r}")


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge padding: (T, D) -> (T, D)."""
    if len(x) < 2 or window < 2:
        return x.copy()
    half = window // 2
    padded = np.pad(x, ((half, half), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack([np.convolve(padded[:, d], kernel, mode="valid") for d in range(x.shape[1])], axis=1)


def _bones() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parent indices, child indices, colours and widths of every drawn bone: each (E,)."""
    parents, children, colors, widths = [], [], [], []
    for chain, color, width in zip(KINEMATIC_CHAIN, _CHAIN_COLORS, _CHAIN_WIDTHS, strict=True):
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            parents.append(a)
            children.append(b)
            colors.append(color)
            widths.append(width)
    return np.array(parents), np.array(children), np.array(colors), np.array(widths)


def _to_mpl(points: np.ndarray) -> np.ndarray:
    """Our (X, Y, Z), Y up, to matplotlib's (x, y, z) = (Z, X, Y), z up; a rotation, not a mirror."""
    return points[..., [2, 0, 1]]


def _project(points: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project matplotlib-space points (..., 3) with the 4x4 axes matrix: 2D (..., 2) and depth (...,).

    The same maths as ``mpl_toolkits.mplot3d.proj3d.proj_transform``, batched. Larger depth is farther.
    """
    homo = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1) @ M.T  # (..., 4)
    ndc = homo[..., :3] / homo[..., 3:4]
    return ndc[..., :2], ndc[..., 2]


def _camera_matrix(fig: Any, half: float, height: float) -> np.ndarray:
    """The 4x4 projection of a 3D axes framing a (2*half, 2*half, height) box; the axes is then removed.

    Matplotlib-space box: x, y in [-half, half], z (up) in [0, height], with the fixed camera angles.
    """
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0), projection="3d")
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_zlim(0.0, height)
    ax.set_box_aspect((2 * half, 2 * half, height))
    ax.set_proj_type("persp", focal_length=_FOCAL_LENGTH)
    ax.view_init(elev=_ELEV, azim=_AZIM)
    M = ax.get_proj()
    fig.delaxes(ax)
    return M


def _with_breaks(segments: np.ndarray) -> np.ndarray:
    """Segments (S, 2, 2) as one polyline (3S, 2) with a NaN row after each, for a single Line2D."""
    nan = np.full((len(segments), 1, 2), np.nan)
    return np.concatenate([segments, nan], axis=1).reshape(-1, 2)


# --- the scene ------------------------------------------------------------------------------------------


class _Scene:
    """Everything needed to draw one clip: figure, cached background, artists and pre-projected geometry."""

    def __init__(
        self, joints: np.ndarray, title: str | None, size: int, points: np.ndarray | None = None
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Polygon

        n_frames = len(joints)
        floor_y = joints[:, :, 1].min()
        if points is not None:  # a mesh's soles are below its ankle and toe joints
            floor_y = min(floor_y, points[:, :, 1].min())
        root = joints[:, 0, [0, 2]]  # (T, 2) root on the floor, (X, Z)
        center = _smooth(root, _SMOOTH_FRAMES)  # (T, 2) camera target
        # Camera-relative positions, floor at height 0: (T, J, 3).
        rel = joints - np.array([0.0, floor_y, 0.0])
        rel[:, :, [0, 2]] -= center[:, None, :]
        reach = np.abs(rel[:, :, [0, 2]]).max()
        half = float(max(1.0, reach + 0.15))  # half-width of the framed box around the camera target
        height = float(max(1.9, rel[:, :, 1].max() + 0.15))

        self.fig = Figure(figsize=(size / _DPI, size / _DPI), dpi=_DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)
        top = 1.0
        if title:
            width = max(16, size // 7)
            lines = textwrap.wrap(" ".join(title.split()), width=width)
            if len(lines) > 2:
                lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width=width)]
            self.fig.text(0.5, 0.985, "\n".join(lines), ha="center", va="top", fontsize=9 * size / 320,
                          color="#202020", linespacing=1.15)  # fmt: skip
            top = 1.0 - (0.03 + 0.05 * len(lines))  # the font size scales with size
        M = _camera_matrix(self.fig, half, height)

        # Everything is projected once, for all frames: (T, J, 2) screen points and (T, J) depths.
        self.bone_parent, self.bone_child, self.bone_colors, self.bone_widths = _bones()
        self.joints_xy, self.joints_depth = _project(_to_mpl(rel), M)
        shadow = rel.copy()
        shadow[:, :, 1] = 0.0
        self.shadow_xy, _ = _project(_to_mpl(shadow), M)
        self.points_xy = None  # (T, P, 2): a body's surface points (e.g. a fitted mesh's vertices), if given
        if points is not None:
            rel_points = points - np.array([0.0, floor_y, 0.0])
            rel_points[:, :, [0, 2]] -= center[:, None, :]
            self.points_xy, _ = _project(_to_mpl(rel_points), M)
        fh = _FLOOR_SCALE * half  # the floor reaches past the frame's edges
        self.root, self.center, self.floor_half, self.M = root, center, fh, M

        # A plain 2D axes framed on the body over the whole clip, so it is never clipped.
        ax = self.fig.add_axes((0.0, 0.0, 1.0, top))
        ax.set_axis_off()
        pts = np.concatenate([self.joints_xy.reshape(-1, 2), self.shadow_xy.reshape(-1, 2)]
                             + ([] if self.points_xy is None else [self.points_xy.reshape(-1, 2)]))
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        mid, span = (lo + hi) / 2, (hi - lo) * (1 + 2 * _MARGIN)
        aspect = top  # axes height / width in pixels
        span = np.maximum(span, [span[1] / aspect, span[0] * aspect])
        ax.set_xlim(mid[0] - span[0] / 2, mid[0] + span[0] / 2)
        ax.set_ylim(mid[1] - span[1] / 2, mid[1] + span[1] / 2)
        self.ax = ax

        # Floor square: fixed on screen, since the camera moves with it, so it is part of the background.
        corners = np.array([[-fh, 0, -fh], [fh, 0, -fh], [fh, 0, fh], [-fh, 0, fh]])
        floor_xy, _ = _project(_to_mpl(corners), M)
        ax.add_patch(Polygon(floor_xy, closed=True, facecolor=_FLOOR_COLOR, edgecolor=_GRID_COLOR, lw=1.0))

        def add(artist: Any) -> Any:
            artist.set_animated(True)  # left out of full draws; drawn by frame()
            return ax.add_artist(artist) if isinstance(artist, Line2D) else ax.add_collection(artist)

        # Single-colour line sets are one Line2D with NaN breaks: much cheaper to draw than a collection.
        self.grid = add(Line2D([], [], color=_GRID_COLOR, lw=0.8))
        self.traj = add(Line2D([], [], color=_TRAJ_COLOR, lw=1.8, alpha=0.85, solid_capstyle="round"))
        self.shadow = add(Line2D([], [], color=_SHADOW_COLOR, lw=2.6, solid_capstyle="round"))
        self.points = add(Line2D([], [], ls="none", marker="o", ms=1.6 * size / 320, mew=0,
                                 color=_POINT_COLOR, alpha=0.55))  # fmt: skip
        self.bones = add(LineCollection([], capstyle="round", joinstyle="round"))
        # A thin progress bar along the bottom edge (text would cost a third of the frame time).
        bar_style = dict(color=_TRAJ_COLOR, lw=2.0 * size / 320, alpha=0.6, solid_capstyle="butt")
        self.progress = Line2D([0, 0], [0, 0], transform=self.fig.transFigure, animated=True, **bar_style)
        self.fig.add_artist(self.progress)
        self.n_frames = n_frames
        self.canvas.draw()  # the one full draw: title and floor
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def _grid_lines(self, c: np.ndarray) -> np.ndarray:
        """NaN-separated 2D polyline (3S, 2) of the floor grid lines in the square centred on ``c`` (X, Z)."""
        h = self.floor_half
        segs = []
        for axis in (0, 1):  # lines of constant X, then constant Z
            lo, hi = c[axis] - h, c[axis] + h
            for v in np.arange(np.ceil(lo / _GRID_STEP), np.floor(hi / _GRID_STEP) + 1) * _GRID_STEP:
                a = np.zeros((2, 3))
                a[:, 0 if axis == 0 else 2] = v - c[axis]
                a[:, 2 if axis == 0 else 0] = (-h, h)
                segs.append(a)
        if not segs:
            return np.zeros((0, 2))
        xy, _ = _project(_to_mpl(np.stack(segs)), self.M)
        return _with_breaks(xy)

    def _trajectory(self, t: int) -> np.ndarray:
        """2D polyline (t+1, 2) of the root's path up to frame t, NaN outside the floor square."""
        path = self.root[: t + 1] - self.center[t]  # (t+1, 2) in (X, Z)
        path = np.where((np.abs(path) <= self.floor_half).all(axis=1, keepdims=True), path, np.nan)
        pts = np.stack([path[:, 0], np.zeros(len(path)), path[:, 1]], axis=1)
        xy, _ = _project(_to_mpl(pts), self.M)
        return xy

    def frame(self, t: int) -> np.ndarray:
        """Draw frame ``t`` and return it as (H, W, 3) uint8."""
        self.canvas.restore_region(self.background)
        self.grid.set_data(*self._grid_lines(self.center[t]).T)
        xy = self._trajectory(t)
        self.traj.set_data(xy[:, 0], xy[:, 1])
        p, c = self.bone_parent, self.bone_child
        self.shadow.set_data(*_with_breaks(np.stack([self.shadow_xy[t, p], self.shadow_xy[t, c]], axis=1)).T)
        depth = self.joints_depth[t, p] + self.joints_depth[t, c]
        order = np.argsort(-depth)  # far bones first, near bones on top
        self.bones.set_segments(np.stack([self.joints_xy[t, p], self.joints_xy[t, c]], axis=1)[order])
        self.bones.set_colors(self.bone_colors[order])
        self.bones.set_linewidths(self.bone_widths[order])
        y = 1.0 / self.fig.bbox.height  # one pixel up from the bottom edge
        self.progress.set_data([0.0, (t + 1) / self.n_frames], [y, y])
        if self.points_xy is not None:
            self.points.set_data(self.points_xy[t, :, 0], self.points_xy[t, :, 1])
        for artist in (self.grid, self.traj, self.shadow, self.points, self.bones):
            self.ax.draw_artist(artist)
        self.fig.draw_artist(self.progress)
        return np.asarray(self.canvas.buffer_rgba())[:, :, :3].copy()


def _iter_frames(
    joints: np.ndarray, title: str | None, size: int, points: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    scene = _Scene(joints, title, size, points)
    for t in range(len(joints)):
        yield scene.frame(t)


# --- writers --------------------------------------------------------------------------------------------


def _write_mp4(frames: Iterator[np.ndarray], path: Path, fps: float, size: int) -> None:
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path), (size, size), fps=fps, codec="libx264", pix_fmt_out="yuv420p", quality=5,
        macro_block_size=16, ffmpeg_log_level="error",
        output_params=["-movflags", "+faststart", "-preset", "veryfast"],
        # quality 5 (crf ~25) looked the same as 6 on these line drawings, at 0.6x the file size; preset
        # veryfast halves libx264's CPU time (0.46 -> 0.24 s for 80 frames at 400 px) for 10 % more bytes,
        # which matters when the web UI renders 8 requests' videos at once on 2 cores.
    )  # fmt: skip
    writer.send(None)
    try:
        for frame in frames:
            writer.send(frame)
    finally:
        writer.close()


def _write_gif(frames: Iterator[np.ndarray], path: Path, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    # One palette for the whole clip (from a strip of sampled frames): no flicker, smaller file.
    step = max(1, len(images) // 8)
    strip = np.concatenate([np.asarray(im) for im in images[::step]], axis=0)
    palette = Image.fromarray(strip).quantize(colors=32, method=Image.Quantize.FASTOCTREE)
    quantized = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    quantized[0].save(
        path, save_all=True, append_images=quantized[1:], duration=round(1000 / fps), loop=0,
        optimize=False, disposal=1,
    )  # fmt: skip


# --- public API -----------------------------------------------------------------------------------------


def render_frames(joints: Any, title: str | None = None, size: int = 320) -> np.ndarray:
    """Render a motion as skeleton frames.

    Args:
        joints: Joint positions in metres, Y up, of shape (T, 22, 3), T >= 1, all finite.
        title: Text shown at the top (e.g. the prompt), wrapped to at most two lines. None for none.
        size: Width and height in pixels, a multiple of 16 and >= 64.

    Returns:
        RGB frames of shape (T, size, size, 3), dtype uint8.

    Raises:
        InvalidMotionError: ``joints`` has the wrong shape or holds NaN/inf.
        ValueError: ``size`` is not allowed.
    """
    arr = _check_joints(joints)
    _check_options(FPS, size)
    return np.stack(list(_iter_frames(arr, title, size)))  # (T, H, W, 3)


def render_video(
    joints: Any,
    path: str | os.PathLike,
    fps: float = FPS,
    title: str | None = None,
    size: int = 320,
    points: Any = None,
) -> Path:
    """Render a motion to an MP4 (H.264) or GIF skeleton video, chosen by the suffix of ``path``.

    The file is written atomically: if anything fails, ``path`` is left as it was.

    Args:
        joints: Joint positions in metres, Y up, of shape (T, 22, 3), T >= 1, all finite.
        path: Output file, ending in ``.mp4`` or ``.gif``. Parent folders are created.
        fps: Frames per second of the video (the data's own rate is 20).
        title: Text shown at the top (e.g. the prompt), wrapped to at most two lines. None for none.
        size: Width and height in pixels, a multiple of 16 and >= 64.
        points: Optional surface points drawn as dots behind the skeleton, (T, P, 3) in the joints'
            metres (e.g. a sample of a fitted SMPL mesh's vertices, ``motiongpt fit-smpl --video``).

    Returns:
        The path written.

    Raises:
        InvalidMotionError: ``joints`` has the wrong shape or holds NaN/inf.
        ValueError: ``path`` has another suffix, or ``fps`` / ``size`` is not allowed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"path must end in one of {', '.join(VIDEO_SUFFIXES)}, got {str(path)!r}")
    arr = _check_joints(joints)
    _check_options(fps, size)
    cloud = None if points is None else _check_points(points, len(arr))
    with atomic_path(path) as tmp:
        frames = _iter_frames(arr, title, size, cloud)
        if suffix == ".mp4":
            _write_mp4(frames, tmp, fps, size)
        else:
            _write_gif(frames, tmp, fps)
    logger.debug("rendered %d frames to %s", len(arr), path)
    return path
