"""The test run's one SparkSession (local[2], driver on 127.0.0.1), shared by every test.

Spark allows one SparkContext per JVM and starting one costs about five seconds, so
the session is started once, by the first test that asks for it, and stopped at the
end of the run. Tests that run a path on Spark pass ``SPARK`` (the settings it was
started with) to the project, so the library's ``spark_session`` returns this session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from featurestore.engine import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK = SparkSettings(master="local[2]")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from featurestore.spark import session

    started = session.spark_session(SPARK)
    yield started
    session.stop()
