"""What uvicorn imports in each server process of ``featurestore serve`` and ``api start``.

The server only reads the registry, so it imports Feast without typeguard's
instrumentation (``featurestore.feast_import``: about 4 s less per worker). That has to
happen before any Feast module is imported, and uvicorn imports the HTTP protocol class
before the app factory, in the server process and in each worker it spawns; so both
import strings the CLI passes name this module (``api.worker:InlineHttpProtocol``,
``api.worker:create_app_from_env``), and whichever uvicorn imports first turns the checks
off, in every process. Importing this module anywhere else does the same to that
process: tests and library code import ``api.app`` and ``api.protocol`` instead.
"""

from featurestore.feast_import import skip_typechecks

skip_typechecks()

from api.app import create_app_from_env  # noqa: E402
from api.protocol import InlineHttpProtocol  # noqa: E402

__all__ = ["InlineHttpProtocol", "create_app_from_env"]
