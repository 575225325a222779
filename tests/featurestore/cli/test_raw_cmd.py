"""``featurestore raw``: what it prints for a project's own data, whatever the data holds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.cli import app, main
from featurestore.errors import RawSourceError

PROJECT = """\
name: notes
sources:
  notes:
    format: csv
    path: raw/notes.csv
    description: "[/desc] markup-looking text"
    columns: {id: BIGINT, text: VARCHAR}
  missing:
    format: parquet
    path: raw/nowhere/
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "feature_repo").mkdir()
    (tmp_path / "feature_repo" / "feature_store.yaml").write_text("project: notes\n")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "notes.csv").write_text("id,text\n1,[/oops] [bold]not bold\n")
    (tmp_path / "featurestore.yaml").write_text(PROJECT)
    monkeypatch.setenv("FEATURESTORE_PROJECT", str(tmp_path))
    return tmp_path


def test_values_and_descriptions_are_printed_as_they_are(project: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["raw", "preview", "notes"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "[/oops] [bold]not bold" in shown.output
    listed = runner.invoke(app, ["raw", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "[/desc] markup-looking text" in listed.output
    assert "raw/notes.csv" in listed.output and str(project) not in listed.output


def test_check_opens_a_source_without_declared_columns(project: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["raw", "check", "notes"])
    assert ok.exit_code == 0 and "notes: ok, 2 declared columns match" in ok.output
    broken = runner.invoke(app, ["raw", "check", "missing"])
    assert isinstance(broken.exception, RawSourceError)
    assert "missing" in str(broken.exception)


@pytest.mark.parametrize("command", ["check", "describe", "preview"])
def test_a_file_that_is_not_parquet_is_one_line_naming_it(
    project: Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 13, 9: a text file declared as a Parquet source."""
    (project / "raw" / "junk.parquet").write_text("id,text\n1,not parquet\n")
    spec = PROJECT + "  junk:\n    format: parquet\n    path: raw/junk.parquet\n"
    (project / "featurestore.yaml").write_text(spec + "    columns: {id: BIGINT}\n")
    monkeypatch.setattr(sys, "argv", ["featurestore", "raw", command, "junk"])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: raw source 'junk' (") and "junk.parquet" in line
    assert "LINE 1" not in line  # DuckDB's echo of our own SQL
