"""motiongpt.render: skeleton videos (MP4/GIF) of 22-joint motions."""

from motiongpt.render.skeleton_video import VIDEO_SUFFIXES, render_frames, render_video

__all__ = ["VIDEO_SUFFIXES", "render_frames", "render_video"]
