"""Frozen and moving teachers for retraining: knowledge distillation from the base model, mean teacher.

Distillation keeps the student's outputs close to the base model's on the same augmented views (the replay
frames and, when improving one domain, the new frames too), so learning a site costs less of what the base
knew than replay alone. The mean teacher (an EMA of the student) labels unlabelled frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation_loss(
    student: tuple[torch.Tensor, torch.Tensor],
    teacher: tuple[torch.Tensor, torch.Tensor],
    weight: torch.Tensor,
) -> torch.Tensor:
    """Soft-target BCE on the mask + KL on the class, per frame, weighted (0 = frame not distilled)."""
    s_seg, s_cls = (t.float() for t in student)
    t_seg, t_cls = (t.float().detach() for t in teacher)
    seg = F.binary_cross_entropy_with_logits(s_seg, torch.sigmoid(t_seg), reduction="none").mean((1, 2, 3))
    seg = seg - F.binary_cross_entropy_with_logits(t_seg, torch.sigmoid(t_seg), reduction="none").mean(
        (1, 2, 3)
    )  # minus the teacher's own entropy: 0 when the student agrees, whatever the teacher's certainty
    cls = F.kl_div(s_cls.log_softmax(1), t_cls.softmax(1), reduction="none").sum(1)
    per_frame = seg + cls
    return (per_frame * weight).sum() / weight.sum().clamp(min=1.0)


def consistency_loss(
    student: tuple[torch.Tensor, torch.Tensor], teacher: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """Mean teacher: squared difference of probabilities (mask and class) between the two views."""
    s_seg, s_cls = student
    t_seg, t_cls = teacher
    seg = F.mse_loss(torch.sigmoid(s_seg.float()), torch.sigmoid(t_seg.float()))
    return seg + F.mse_loss(s_cls.float().softmax(1), t_cls.float().softmax(1))


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, decay: float) -> None:
    for t, s in zip(teacher.state_dict().values(), student.state_dict().values(), strict=True):
        if t.dtype.is_floating_point:
            t.mul_(decay).add_(s.detach(), alpha=1 - decay)
        else:
            t.copy_(s)


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    teacher = copy.deepcopy(model).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher
