"""Raster mask editing: every tool changes the pixels it should, one undo step per edit, bounded history."""

from __future__ import annotations

import numpy as np
import pytest

from c5desk.reading.edit import EditError, MaskEditor, changed_box


def blank(h: int = 60, w: int = 80) -> MaskEditor:
    return MaskEditor(np.zeros((h, w), bool))


def test_brush_stroke_paints_a_continuous_band_as_one_step() -> None:
    editor = blank()
    editor.begin_stroke(10, 30, radius=3)
    for x in (20, 45, 70):  # big jumps: the segment between samples must still be painted
        editor.extend_stroke(x, 30)
    editor.end_stroke()
    row = editor.mask[30]
    assert row[7:74].all() and not row[:6].any() and not row[75:].any()
    assert editor.mask[27:34, 40].all() and not editor.mask[25, 40] and not editor.mask[35, 40]
    assert editor.undo_names == ["brush"]
    assert editor.undo() is not None and not editor.mask.any()
    assert editor.redo() is not None and editor.mask[30, 40]


def test_eraser_removes_only_under_the_stroke() -> None:
    editor = MaskEditor(np.ones((40, 40), bool))
    editor.begin_stroke(20, 0, radius=2, erase=True)
    editor.extend_stroke(20, 39)
    editor.end_stroke()
    assert not editor.mask[:, 18:23].any() and editor.mask[:, :17].all() and editor.mask[:, 24:].all()
    assert editor.undo_names == ["erase"]


def test_stroke_outside_the_frame_changes_nothing_and_records_nothing() -> None:
    editor = blank()
    editor.begin_stroke(-50, -50, radius=3)
    editor.extend_stroke(-60, -40)
    assert not editor.end_stroke()
    assert not editor.mask.any() and not editor.can_undo


def test_single_click_stamps_a_disc() -> None:
    editor = blank()
    editor.begin_stroke(40, 30, radius=4)
    editor.end_stroke()
    assert 40 < int(editor.mask.sum()) < 70  # ~ pi r^2 = 50
    assert editor.mask[30, 40] and editor.mask[30, 44] and not editor.mask[30, 45]


def test_cancel_stroke_restores_the_mask() -> None:
    editor = blank()
    editor.begin_stroke(10, 10, radius=3)
    editor.extend_stroke(50, 40)
    editor.cancel_stroke()
    assert not editor.mask.any() and not editor.can_undo


def test_mask_is_read_only_outside_the_editor() -> None:
    editor = blank()
    with pytest.raises(ValueError):
        editor.mask[0, 0] = True


def test_lasso_add_and_subtract_rasterise_the_polygon() -> None:
    editor = blank()
    assert editor.lasso([(10, 10), (50, 10), (50, 40), (10, 40)], add=True)
    assert editor.mask[10:41, 10:51].all() and int(editor.mask.sum()) == 31 * 41
    assert editor.lasso([(20, 0), (30, 0), (30, 59), (20, 59)], add=False)
    assert not editor.mask[:, 20:31].any() and editor.mask[20, 15] and editor.mask[20, 45]
    assert editor.undo_names == ["lasso add", "lasso subtract"]
    assert not editor.lasso([(1, 1), (2, 2)])  # fewer than 3 points: nothing to fill


def test_fill_holes_fills_enclosed_background_only() -> None:
    mask = np.zeros((50, 50), bool)
    mask[10:30, 10:30] = True
    mask[15:20, 15:20] = False  # an enclosed hole
    mask[0:10, 40:50] = True
    mask[0:5, 45:50] = False  # a notch open to the border is not a hole
    editor = MaskEditor(mask)
    assert editor.fill_holes()
    assert editor.mask[10:30, 10:30].all() and not editor.mask[0:5, 45:50].any()
    assert not editor.fill_holes()  # nothing left to fill: no new step
    assert editor.undo_names == ["fill holes"]


def test_keep_largest_and_remove_small_islands() -> None:
    mask = np.zeros((50, 50), bool)
    mask[5:25, 5:25] = True  # 400 px
    mask[30:35, 30:35] = True  # 25 px
    mask[40:42, 40:42] = True  # 4 px
    editor = MaskEditor(mask)
    assert editor.remove_small(10)
    assert not editor.mask[40:42, 40:42].any() and editor.mask[30:35, 30:35].all()
    assert editor.keep_largest()
    assert int(editor.mask.sum()) == 400
    assert not editor.keep_largest()


def test_smooth_removes_a_thin_spur_and_keeps_the_body() -> None:
    mask = np.zeros((60, 60), bool)
    mask[20:40, 20:40] = True
    mask[29:31, 40:55] = True  # a 2-px spur
    editor = MaskEditor(mask)
    assert editor.smooth(2)
    assert not editor.mask[29:31, 45:55].any() and editor.mask[22:38, 22:38].all()


def test_threshold_drag_is_one_undo_step() -> None:
    prob = np.tile(np.linspace(0, 1, 80, dtype=np.float32), (60, 1))
    editor = blank()
    for level in (0.9, 0.7, 0.5):
        editor.threshold(prob, level)
    assert editor.undo_names == ["threshold"]
    assert np.array_equal(editor.mask, prob >= 0.5)
    editor.undo()
    assert not editor.mask.any()
    with pytest.raises(EditError):
        editor.threshold(prob[:10], 0.5)


def test_new_edit_clears_redo_and_clear_is_undoable() -> None:
    editor = blank()
    editor.lasso([(10, 10), (50, 10), (50, 40)])
    assert editor.clear() and not editor.mask.any()
    editor.undo()
    assert editor.mask.any() and editor.can_redo
    editor.begin_stroke(5, 5, 1)
    editor.end_stroke()
    assert not editor.can_redo


def test_history_stores_patches_and_is_bounded_in_bytes() -> None:
    editor = MaskEditor(np.zeros((768, 1024), bool), max_bytes=200_000)
    editor.begin_stroke(100, 100, radius=5)
    editor.end_stroke()
    assert editor.history_bytes == 2 * 11 * 11  # before + after of the 11x11 changed box, not the frame
    for i in range(100):
        editor.begin_stroke(10 * i % 1000, 300, radius=20)
        editor.extend_stroke(10 * i % 1000, 700)
        editor.end_stroke()
    assert editor.history_bytes <= 200_000 and 0 < len(editor.undo_names) < 101
    while editor.undo() is not None:
        pass
    assert editor.mask.any()  # the oldest steps were dropped, so not everything can be undone


def test_version_moves_on_every_change() -> None:
    editor = blank()
    seen = {editor.version}
    editor.begin_stroke(5, 5, 2)
    seen.add(editor.version)
    editor.end_stroke()
    editor.undo()
    seen.add(editor.version)
    editor.redo()
    seen.add(editor.version)
    assert len(seen) == 4


def test_bad_masks_are_refused_with_a_clear_error() -> None:
    with pytest.raises(EditError, match="2-D"):
        MaskEditor(np.zeros((3, 3, 3), bool))
    with pytest.raises(EditError, match="boolean or integer"):
        MaskEditor(np.zeros((3, 3), np.float32))
    editor = blank()
    with pytest.raises(EditError, match="does not match"):
        editor.apply(np.zeros((5, 5), bool), "x")
    with pytest.raises(EditError):
        editor.extend_stroke(1, 1)


def test_changed_box() -> None:
    a = np.zeros((10, 10), bool)
    b = a.copy()
    assert changed_box(a, b) is None
    b[2, 3] = b[5, 7] = True
    box = changed_box(a, b)
    assert (box.y0, box.x0, box.y1, box.x1) == (2, 3, 6, 8)
