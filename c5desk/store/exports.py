"""One entry point for every export format: run_export(store, format, out, ...) -> ExportSummary.

The output folder is checked before any work (outputs.check_output_folder: what --out may be), appears
complete or not at all (export_common.atomic_folder) and every export is recorded in the audit log (format
and counts; no paths).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from c5desk.store.export_common import ExportItem, ExportSummary, atomic_folder, export_items
from c5desk.store.export_ml import export_coco, export_csv, export_labelled_folder, export_masks
from c5desk.store.outputs import check_output_folder
from c5desk.store.records import StoreError
from c5desk.store.store import Store

Writer = Callable[[Store, list[ExportItem], Path, ExportSummary], None]


def _dicom_seg(**options: object) -> Writer:
    from c5desk.store.export_dicom import export_dicom_seg  # highdicom only when asked for

    return lambda store, items, out, summary: export_dicom_seg(store, items, out, summary, **options)  # type: ignore[arg-type]


def _report(**_options: object) -> Writer:
    from c5desk.store.export_report import export_report

    return export_report


FORMATS: dict[str, Callable[..., Writer]] = {
    "masks": lambda **_: export_masks,
    "coco": lambda **_: export_coco,
    "csv": lambda **_: export_csv,
    "labelled-folder": lambda **_: export_labelled_folder,
    "dicom-seg": _dicom_seg,
    "report": _report,
}


def run_export(
    store: Store,
    fmt: str,
    out: str | Path,
    dicom_sources: list[Path] | None = None,
    keep_identity: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExportSummary:
    """Write the store's annotations in `fmt` to the new folder `out`.

    progress(done, total) is called after each frame; cancel() is asked before each and, when true,
    stops the export with ExportCancelled, leaving no output folder.
    """
    if fmt not in FORMATS:
        raise StoreError(f"unknown export format {fmt!r} (choose from: {', '.join(FORMATS)})")
    if fmt != "dicom-seg" and (dicom_sources or keep_identity):
        raise StoreError("--dicom-sources and --keep-identity apply to the dicom-seg format only")
    if keep_identity and not dicom_sources:
        raise StoreError("--keep-identity needs --dicom-sources: the store keeps no identity to copy")
    check_output_folder(Path(out))  # before any work: a bad --out is told at once, in one line
    options = {"dicom_sources": dicom_sources, "keep_identity": keep_identity} if fmt == "dicom-seg" else {}
    writer = FORMATS[fmt](**options)
    items = export_items(store)
    summary = ExportSummary(format=fmt, out=Path(out), total=len(items), progress=progress, cancel=cancel)
    with atomic_folder(Path(out)) as folder:
        writer(store, items, folder, summary)
    store.log_action(
        "export",
        after={
            "format": fmt,
            "keep_identity": keep_identity,
            "exported": summary.exported,
            "skipped": len(summary.skipped),
        },
    )
    return summary
