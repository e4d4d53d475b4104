"""motiongpt.webui: the browser UI (gradio) over a MotionGPT, and the conversation logic behind it.

``MotionChat`` (no gradio) does the work; ``build_app`` / ``launch`` import gradio on first use.
"""

from __future__ import annotations

from motiongpt._lazy import lazy_getattr

_EXPORTS = {
    "MotionChat": "motiongpt.webui.session",
    "Turn": "motiongpt.webui.session",
    "build_app": "motiongpt.webui.app",
    "launch": "motiongpt.webui.app",
}

__getattr__ = lazy_getattr(__name__, _EXPORTS)

__all__ = list(_EXPORTS)
