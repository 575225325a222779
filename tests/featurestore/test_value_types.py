"""Our ``ValueType`` is Feast's, member for member, and the executor's code needs no Feast."""

from __future__ import annotations

import subprocess
import sys

from feast.value_type import ValueType as FeastValueType

from featurestore.value_types import ValueType


def test_every_member_has_feasts_name_and_number() -> None:
    assert [(m.name, m.value) for m in ValueType] == [(m.name, m.value) for m in FeastValueType]


def test_of_converts_each_of_feasts_members() -> None:
    for member in FeastValueType:
        assert ValueType.of(member).name == member.name
    assert ValueType.of(FeastValueType.INT64) is ValueType.INT64


def test_ours_is_never_equal_to_feasts_or_an_int() -> None:
    # A missed conversion must not pass by luck: the two enums compare unequal.
    assert ValueType.STRING != FeastValueType.STRING
    assert ValueType.STRING != 2


def test_what_spark_executors_import_does_not_import_feast() -> None:
    code = (
        "import sys\n"
        "import featurestore.spark.materialize, featurestore.redis_client\n"
        "loaded = sorted(m for m in sys.modules if m == 'feast' or m.startswith('feast.'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
