"""How the current outline was made, and the next prompt of an iterative refinement. Headless (no Qt).

A Document's mask changes through one MaskEditor with one undo history; this keeps, beside it, which mask
states a prompt made (by content: a digest of the mask), so that whatever undo and redo do, the outline's
provenance follows the mask on screen:

    automatic    the model's own mask (untouched, accepted, or a threshold of its probability map)
    prompted     the last change was a prompt (box, click, pick): the chain of prompts that made it is kept
    hand-drawn   brush, eraser, lasso or a mask operation came after (or without) prompts

The provenance is saved with the annotation (store: annotations.provenance) and its autosave.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # c5desk.inference loads the readers (pydicom): not on the window's start-up path
    from c5desk.inference.prompt import Prompt

PROMPT_TOOLS = ("box", "click", "pick")  # also the undo step names of their edits
RECOVERED = "recover autosave"  # the undo step of Document.for_frame's recovery
MODEL_STEPS = ("accept AI result", "threshold")


@dataclass(frozen=True)
class _Made:
    """A mask state made by a prompt: the prompt (without pixels) and the chain of prompts behind it."""

    prompt: Prompt
    chain: tuple[dict[str, Any], ...]


def digest(mask: np.ndarray) -> bytes:
    binary = np.ascontiguousarray(mask, bool)
    content = np.packbits(binary).tobytes() + repr(binary.shape).encode()
    return hashlib.blake2b(content, digest_size=16).digest()


class OutlineHistory:
    def __init__(self, base: dict[str, Any] | None = None) -> None:
        self.base = dict(base or {})  # the provenance of the mask the document started from (saved/recovered)
        self._made: dict[bytes, _Made] = {}

    def made_by_prompt(self, mask: np.ndarray, undo_names: list[str]) -> _Made | None:
        """The prompt behind the mask on screen, when the last change was a prompt."""
        if not undo_names or undo_names[-1] not in PROMPT_TOOLS:
            return None
        return self._made.get(digest(mask))

    def record(
        self, before: np.ndarray, undo_names_before: list[str], tool: str, prompt: Prompt, after: np.ndarray
    ) -> None:
        """A prompt (of `tool`) turned the mask `before` into `after`."""
        earlier = self.made_by_prompt(before, undo_names_before)
        from c5desk.inference.prompt import Prompt

        entry = {"tool": tool, **prompt.to_json()}
        chain = (*earlier.chain, entry) if earlier is not None and tool == "click" else (entry,)
        self._made[digest(after)] = _Made(Prompt(prompt.box, prompt.positive, prompt.negative), chain)

    def next_click(self, mask: np.ndarray, undo_names: list[str], x: int, y: int, positive: bool) -> Prompt:
        """The prompt for one more click: the current prompt's box and clicks plus this one, from the mask."""
        from c5desk.inference.prompt import Prompt

        made = self.made_by_prompt(mask, undo_names)
        current = made.prompt if made is not None else Prompt()
        return current.with_click(x, y, positive, np.array(mask, bool))

    def provenance(
        self, mask: np.ndarray, undo_names: list[str], model_mask: np.ndarray | None, threshold: float | None
    ) -> dict[str, Any]:
        made = self.made_by_prompt(mask, undo_names)
        if made is not None:
            return {"method": "prompted", "prompts": list(made.chain)}
        if model_mask is not None and np.array_equal(mask, model_mask):
            return {"method": "automatic"}
        last = undo_names[-1] if undo_names else None
        if last is None or last == RECOVERED:
            return dict(self.base) if self.base or not mask.any() else {"method": "hand-drawn"}
        if last == "threshold" and threshold is not None:
            return {"method": "automatic", "threshold": round(float(threshold), 4)}
        return {"method": "hand-drawn"}
