"""Quaternion, 6D-rotation and yaw-rotation helpers in torch (quaternions are (w, x, y, z), last dim).

All functions broadcast over leading dims and are differentiable; they do no input checks (internal use).
"""

from __future__ import annotations

import torch


def qmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a * b`` of (..., 4) quaternions."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def qinv(q: torch.Tensor) -> torch.Tensor:
    """Inverse (conjugate) of unit quaternions (..., 4)."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def qbetween(u: torch.Tensor, v: torch.Tensor, perp: torch.Tensor) -> torch.Tensor:
    """Shortest-arc unit quaternion turning unit vectors ``u`` onto ``v`` (..., 3) -> (..., 4).

    ``perp`` (..., 3) is a unit vector orthogonal to ``u``: the axis of the half turn used when ``v``
    points exactly opposite ``u`` (where the shortest arc is undefined).
    """
    u = u.expand_as(v)
    w = 1.0 + (u * v).sum(-1, keepdim=True)  # (..., 1)
    q = torch.cat((w, torch.linalg.cross(u, v, dim=-1)), dim=-1)  # (..., 4)
    opposite = w < 1e-7
    half_turn = torch.cat((torch.zeros_like(w), perp.expand_as(v)), dim=-1)
    q = torch.where(opposite, half_turn, q)
    return q / q.norm(dim=-1, keepdim=True)


def quat_to_cont6d(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (..., 4) -> continuous 6D rotation (..., 6): the matrix's first two columns."""
    w, x, y, z = q.unbind(-1)
    col0 = torch.stack((1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)), dim=-1)
    col1 = torch.stack((2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)), dim=-1)
    return torch.cat((col0, col1), dim=-1)


def cont6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """Continuous 6D rotations (..., 6) (a matrix's first two columns, as :func:`quat_to_cont6d` writes
    them) -> rotation matrices (..., 3, 3), by Gram-Schmidt (any 6 numbers give a rotation)."""
    a, b = x[..., :3], x[..., 3:]
    c0 = torch.nn.functional.normalize(a, dim=-1)
    c1 = torch.nn.functional.normalize(b - (c0 * b).sum(-1, keepdim=True) * c0, dim=-1)
    return torch.stack((c0, c1, torch.linalg.cross(c0, c1)), dim=-1)


def yaw_quat(angle: torch.Tensor) -> torch.Tensor:
    """Rotations by ``angle`` (...,) radians about +Y as quaternions (..., 4)."""
    half = 0.5 * angle
    zero = torch.zeros_like(angle)
    return torch.stack((torch.cos(half), zero, torch.sin(half), zero), dim=-1)


def rotate_y(v: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v`` (..., 3) by ``angle`` (...,) radians about +Y (right-handed: +Z turns to +X)."""
    c, s = torch.cos(angle), torch.sin(angle)
    x, y, z = v.unbind(-1)
    return torch.stack((c * x + s * z, y, c * z - s * x), dim=-1)
