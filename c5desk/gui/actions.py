"""Every command of the window as one table row: menu, text, shortcut and a small function of the window.

The menus, the tools panel's buttons and the help dialog's shortcut list are all built from this table, so
a shortcut shown in help is the shortcut that works.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6 import QtGui

from c5desk.gui.window_parts import open_log_folder

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow

USEFUL = "The unannotated dataset frame the model is least sure about (active learning)"
MENUS = ("File", "Edit", "Measure", "Lesion", "Label", "Navigate", "View", "Model", "Help")


@dataclass(frozen=True)
class Act:
    key: str
    menu: str
    text: str
    run: Callable[[MainWindow], object]
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    checkable: bool = False


def _tool(name: str) -> Callable[[MainWindow], object]:
    return lambda w: w.edits.set_tool(name)


def _label(name: str) -> Callable[[MainWindow], object]:
    return lambda w: w.edits.set_label(name)


def _mask_op(name: str) -> Callable[[MainWindow], object]:
    return lambda w: w.edits.mask_operation(name)


def _layer(name: str) -> Callable[[MainWindow], object]:
    return lambda w: w.canvas.set_layer_visible(name, w.actions[f"show_{name}"].isChecked())


def _opener(module: str, function: str) -> Callable[[MainWindow], object]:
    """module.function(window), imported on first use (the DICOM dialogs load pynetdicom)."""
    return lambda w: getattr(importlib.import_module(f"c5desk.gui.{module}"), function)(w)


ACTIONS: tuple[Act, ...] = (
    Act("open", "File", "&Open file…", lambda w: w.choose_file(), ("Ctrl+O",), "A frame, DICOM or video"),
    Act("open_folder", "File", "Open f&older…", lambda w: w.choose_folder(), ("Ctrl+Shift+O",)),
    Act(
        "open_store", "File", "Open &dataset…", lambda w: w.choose_store(), (), "Where annotations are saved"
    ),
    Act("save", "File", "&Save to dataset", lambda w: w.save(), ("Ctrl+S",)),
    Act("recover", "File", "&Recover autosaved edits", lambda w: w.reading.recover_autosave()),
    Act("score_folder", "File", "Score a folder…", lambda w: w.models.open_dialog("batch")),
    Act("export", "File", "&Export dataset…", lambda w: w.models.open_dialog("export")),
    Act(
        "send_pacs",
        "File",
        "Send to &PACS…",
        _opener("send_dialog", "open_send_dialog"),
        tip="Results (DICOM SEG + SR) of chosen cases to a PACS",
    ),
    Act(
        "dicom_node",
        "File",
        "DICOM &node…",
        _opener("node_settings", "open_node_settings"),
        tip="Receive from scanners: AE title, port, allowed peers, forwarding; start and stop",
    ),
    Act("quit", "File", "&Quit", lambda w: w.close(), ("Ctrl+Q",)),
    Act("undo", "Edit", "Undo", lambda w: w.edits.undo(), ("Ctrl+Z",)),
    Act("redo", "Edit", "Redo", lambda w: w.edits.redo(), ("Ctrl+Shift+Z", "Ctrl+Y")),
    Act("accept_ai", "Edit", "&Accept AI result and save", lambda w: w.reading.accept_ai(), ("A",)),
    Act("tool_navigate", "Edit", "Pan/zoom", _tool("navigate"), ("V",), checkable=True),
    Act("tool_brush", "Edit", "Brush", _tool("brush"), ("B",), checkable=True),
    Act("tool_eraser", "Edit", "Eraser", _tool("eraser"), ("E",), checkable=True),
    Act("tool_lasso_add", "Edit", "Lasso +", _tool("lasso_add"), ("L",), checkable=True),
    Act("tool_lasso_subtract", "Edit", "Lasso −", _tool("lasso_subtract"), ("Shift+L",), checkable=True),
    # prompts: the model outlines what is pointed at (canvas.py → model_link.py: ModelLink.prompt)
    Act("tool_box", "Edit", "Box", _tool("box"), ("X",), "Drag a box: outlined inside", True),
    Act("tool_click", "Edit", "Click ±", _tool("click"), ("P",), "Left: lesion; right: background", True),
    Act("tool_pick", "Edit", "Pick", _tool("pick"), ("Shift+P",), "Click a region: the lesion", True),
    Act("brush_smaller", "Edit", "Smaller brush", lambda w: w.edits.resize_brush(-1), ("[",)),
    Act("brush_larger", "Edit", "Larger brush", lambda w: w.edits.resize_brush(1), ("]",)),
    Act("fill_holes", "Edit", "Fill holes", _mask_op("fill_holes"), ("F",)),
    Act("keep_largest", "Edit", "Keep largest", _mask_op("keep_largest"), ("K",)),
    Act("remove_small", "Edit", "Remove small islands", _mask_op("remove_small"), ("R",)),
    Act("smooth", "Edit", "Smooth", _mask_op("smooth"), ("S",)),
    Act("clear_mask", "Edit", "Clear", _mask_op("clear"), ("Delete",)),
    # calipers and calibration (caliper_commands.py); "tool_" puts the calipers among the exclusive tools
    Act(
        "tool_distance",
        "Measure",
        "Distance caliper",
        _opener("caliper_commands", "use_distance"),
        ("D",),
        "Drag or click two points: their distance in mm (px when uncalibrated)",
        checkable=True,
    ),
    Act(
        "tool_area",
        "Measure",
        "Area caliper",
        _opener("caliper_commands", "use_area"),
        ("Shift+D",),
        "Click the corners; double-click or Enter closes: area and perimeter",
        checkable=True,
    ),
    Act(
        "set_scale",
        "Measure",
        "Set scale from ruler…",
        _opener("caliper_commands", "start_ruler"),
        tip="Uncalibrated frame: click two ticks of the depth ruler and type their distance in mm",
    ),
    Act("clear_calipers", "Measure", "Clear calipers", _opener("caliper_commands", "clear_calipers")),
    Act(
        "mark_view",
        "Measure",
        "Mark lesion as view 1",
        _opener("caliper_commands", "mark_view"),
        tip="The lesion's long and short axes on this view, for its three diameters",
    ),
    Act(
        "link_view",
        "Measure",
        "Link as orthogonal view (3 diameters)",
        _opener("caliper_commands", "link_view"),
        tip="This view's long axis with view 1's: three diameters and the ellipsoid volume",
    ),
    # several lesions on a frame (lesion_panel.py): each with its own outline, label, category and note
    Act(
        "add_lesion",
        "Lesion",
        "New lesion",
        _opener("lesion_panel", "add_lesion"),
        ("Ctrl+L",),
        "Another lesion on this frame, with its own outline, label and measurements",
    ),
    Act("next_lesion", "Lesion", "Next lesion", _opener("lesion_panel", "next_lesion"), ("Ctrl+Shift+L",)),
    Act(
        "remove_lesion",
        "Lesion",
        "Remove lesion",
        _opener("lesion_panel", "remove_lesion"),
        tip="Remove the selected lesion and its outline from this frame",
    ),
    Act(
        "split_lesions",
        "Lesion",
        "Split",
        _opener("lesion_panel", "split_lesions"),
        tip="Each separate region of the outline becomes its own lesion (the largest stays)",
    ),
    Act(
        "main_lesion",
        "Lesion",
        "Make main",
        _opener("lesion_panel", "make_main"),
        tip="The selected lesion becomes lesion 1: the frame's main lesion in the dataset and exports",
    ),
    Act("label_benign", "Label", "Benign", _label("benign"), ("1",)),
    Act("label_malignant", "Label", "Malignant", _label("malignant"), ("2",)),
    Act("label_normal", "Label", "Normal (no lesion)", _label("normal"), ("3",)),
    Act("label_unsure", "Label", "Unsure", _label("unsure"), ("4",)),
    Act("next_frame", "Navigate", "Next frame", lambda w: w.reading.step(1), ("PgDown",)),
    Act("previous_frame", "Navigate", "Previous frame", lambda w: w.reading.step(-1), ("PgUp",)),
    Act(
        "next_useful",
        "Navigate",
        "Next most useful frame",
        lambda w: w.reading.next_most_useful(),
        ("N",),
        USEFUL,
    ),
    Act("play", "Navigate", "Play/pause cine", lambda w: w.toggle_play(), ("Space",)),
    Act("show_contour", "View", "Contour", _layer("contour"), ("C",), checkable=True),
    Act("show_mask", "View", "Mask fill", _layer("mask"), ("M",), checkable=True),
    Act("show_heat", "View", "Heat map", _layer("heat"), ("H",), checkable=True),
    Act("fit", "View", "Fit frame to window", lambda w: w.canvas.fit(), ("Home",)),
    Act("theme", "View", "Light theme", lambda w: w.set_theme(), ("Ctrl+T",), checkable=True),
    Act("received", "View", "&Received from DICOM", _opener("received_list", "show_received")),
    Act(
        "cases",
        "View",
        "&Cases",
        _opener("case_browser", "show_case_browser"),
        tip="Dataset and open folder by patient and case: unannotated, AI only, corrected, disagreement",
    ),
    Act(
        "rerun",
        "Model",
        "Run the model on this frame again",
        lambda w: w.link.predict(w.document) if w.document else None,
        ("Ctrl+R",),
    ),
    Act("choose_model", "Model", "Choose model bundle…", lambda w: w.models.choose_bundle()),
    Act(
        "use_gpu",
        "Model",
        "Use the GPU when there is one",
        lambda w: w.models.use_gpu(w.actions["use_gpu"].isChecked()),
        checkable=True,
    ),
    Act("retrain", "Model", "Retrain…", lambda w: w.models.open_dialog("retrain")),
    Act("versions", "Model", "Model versions…", lambda w: w.models.open_dialog("versions")),
    Act("help", "Help", "Keyboard shortcuts", lambda w: w.show_help(), ("F1",)),
    Act(
        "model_card",
        "Help",
        "Model card and intended use",
        _opener("help_dialog", "show_model_card"),
        tip="What the model in use is for, what it was trained on, how well it does, its limits",
    ),
    Act("open_logs", "Help", "Open log folder", open_log_folder, (), "For a support engineer"),
)

# Gestures on the frame that are not menu commands, for the help dialog.
GESTURES = (
    ("Mouse wheel", "Zoom (with the brush or eraser: brush size)"),
    ("Ctrl + mouse wheel", "Zoom, whatever the tool"),
    ("Middle-button drag", "Pan, whatever the tool"),
    ("Left drag with Pan/zoom", "Pan; right drag zooms"),
)


def build_actions(window: MainWindow) -> dict[str, QtGui.QAction]:
    """QActions for the table, in menus of the window's menu bar (kept as window.menus)."""
    menus = {name: window.menuBar().addMenu(f"&{name}") for name in MENUS}
    window.menus = menus
    tools = QtGui.QActionGroup(window)
    actions: dict[str, QtGui.QAction] = {}
    for act in ACTIONS:
        action = QtGui.QAction(act.text, window)
        action.setShortcuts([QtGui.QKeySequence(s) for s in act.shortcuts])
        action.setToolTip(act.tip or act.text)
        action.setStatusTip(act.tip)
        action.setCheckable(act.checkable)
        if act.key.startswith("tool_"):
            tools.addAction(action)
        action.triggered.connect(lambda _checked=False, run=act.run: run(window))
        menus[act.menu].addAction(action)
        actions[act.key] = action
    return actions


def shortcut_rows() -> list[tuple[str, str, str]]:
    """(menu, command, shortcuts) for the help dialog, then the mouse gestures."""
    rows = [(a.menu, a.text.replace("&", ""), ", ".join(a.shortcuts)) for a in ACTIONS if a.shortcuts]
    rows += [("Mouse", what, how) for how, what in GESTURES]
    return rows
