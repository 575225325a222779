"""A broken ``feature_store.yaml`` is one line from the commands that read it, not a
traceback (issue 13, item 9; the library side is ``tests/featurestore/test_store.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from featurestore.cli import main
from featurestore.scaffold import init_project


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project: [oops\n", "feature_store.yaml:2: not valid YAML"),
        ("", "feature_store.yaml is empty"),
    ],
)
@pytest.mark.parametrize("command", [["plan"], ["materialize", "2013-01-01", "2013-01-02"]])
def test_plan_and_materialize_say_what_is_wrong_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
    command: list[str],
) -> None:
    root = init_project(tmp_path / "shop")
    (root / "feature_repo" / "feature_store.yaml").write_text(text)
    monkeypatch.setattr(sys, "argv", ["featurestore", "--project", str(root), *command])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and message in line
