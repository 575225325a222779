"""Opening a project's Feast store: a broken ``feature_store.yaml`` is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurestore.errors import ConfigError
from featurestore.project import Project
from featurestore.scaffold import init_project
from featurestore.store import repo_config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project: [oops\n", r"feature_store\.yaml:2: not valid YAML"),
        ("", r"feature_store\.yaml is empty"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_a_broken_feature_store_yaml_is_one_line_naming_it(
    tmp_path: Path, text: str, message: str
) -> None:
    """Issue 13, 9: these were tracebacks (yaml's ParserError, or AttributeError on None)."""
    project = Project.load(init_project(tmp_path / "shop"))
    (project.repo_path / "feature_store.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        repo_config(project)
    assert "\n" not in str(error.value)
