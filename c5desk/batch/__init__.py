"""Score many files into one CSV: resumable, cancellable, with decoding overlapping inference.

reader.py   which files and frames; decoded and prepared on a thread of its own, failures as error items
run.py      score_paths: the queue between the reader and the model, batches, the summary
results.py  the CSV (spreadsheet-safe, resumable) and the path-free mask/overlay pictures

Nothing one file does stops the run: every failure is an error row naming the file, and a reader that dies
leaves error rows for the files it did not finish (`Summary.aborted` says why).
"""

from c5desk.batch.reader import check_frames, discover, select_frames
from c5desk.batch.results import COLUMNS, OLD_COLUMNS, Failed, check_outputs, read_done, read_rows
from c5desk.batch.run import MAX_BATCH_SIZE, Summary, score_paths

__all__ = [
    "COLUMNS",
    "MAX_BATCH_SIZE",
    "OLD_COLUMNS",
    "Failed",
    "Summary",
    "check_frames",
    "check_outputs",
    "discover",
    "read_done",
    "read_rows",
    "score_paths",
    "select_frames",
]
