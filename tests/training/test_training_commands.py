"""`c5desk train|evaluate|retrain` reach the training package; every help text renders."""

from __future__ import annotations

import json

import pytest
from synthetic_lesions import write_folder

from c5desk.cli import main as c5desk_main
from c5desk.model.bundle import make_random_bundle
from training.cli import main as training_main


def test_c5desk_lists_the_training_commands(capsys) -> None:
    assert c5desk_main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("train", "evaluate", "retrain"))


@pytest.mark.parametrize("command", ["train", "evaluate", "retrain"])
def test_c5desk_training_help_texts_render(command, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        c5desk_main([command, "--help"])
    assert stop.value.code == 0
    assert f"usage: c5desk {command}" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["pretrain", "finetune", "evaluate", "retrain"])
def test_training_help_texts_render(command, capsys) -> None:
    with pytest.raises(SystemExit):
        training_main([command, "--help"])
    assert "usage:" in capsys.readouterr().out


def test_c5desk_evaluate_runs_the_training_evaluation(tmp_path, capsys) -> None:
    bundle = make_random_bundle(tmp_path / "b", input_size=64)
    folder = write_folder(tmp_path / "d", 4, seed=0)
    out = tmp_path / "m.json"
    assert c5desk_main(["evaluate", str(bundle), str(folder), "--json", str(out), "--bootstrap", "20"]) == 0
    assert json.loads(out.read_text())["n"] == 4


def test_c5desk_train_reports_bad_input_in_one_line(tmp_path, capsys) -> None:
    code = c5desk_main(
        ["train", "finetune", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("c5desk train finetune: error:") and "labels.csv" in err[0]
