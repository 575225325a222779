"""Data-quality rules of a job, compiled to DuckDB SQL.

Row-level rules (a row that breaks one is quarantined, with the first rule it broke):
    ``<col> not null``     declared ``not null``, and always for entity keys and the timestamp
    ``<col> is <TYPE>``    the query returned another type and this value does not convert
                           losslessly (3.5 into BIGINT, 'abc' into DOUBLE)
    ``<col> >= X``, ``<col> <= Y``, ``<col> in (...)``

Table-level rules (the run fails and the table is not touched):
    ``bad rows <= N%``     the share of quarantined rows exceeds the job's ``max_bad_rows``
    ``unique (keys, ts)``  two rows share entity keys and timestamp
    ``rows > 0``           the window produced no good row

Schema drift of the query's output (a declared column missing, an undeclared one
returned, or a type that cannot convert) fails before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from featurestore.errors import SchemaDriftError
from ingestion.job import Column, Job

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT"}
_INTEGER_TYPES |= {"USMALLINT", "UINTEGER", "UBIGINT"}
_NUMERIC_TYPES = _INTEGER_TYPES | {"FLOAT", "DOUBLE"}
_CONVERTIBLE = {
    # query type family -> declared types it may convert to row by row
    "numeric": _NUMERIC_TYPES,
    "VARCHAR": _NUMERIC_TYPES | {"BOOLEAN", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"},
    "TIMESTAMP": {"TIMESTAMP WITH TIME ZONE"},
    "TIMESTAMP WITH TIME ZONE": {"TIMESTAMP"},
    "DATE": {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE"},
    "BOOLEAN": _INTEGER_TYPES,
}


@dataclass(frozen=True)
class Rule:
    name: str
    condition: str  # true when the row breaks the rule


@dataclass(frozen=True)
class CheckPlan:
    """How to check and write one job's rows."""

    rules: tuple[Rule, ...]
    output: tuple[str, ...]  # SELECT-list items of the written table, cast to declared types

    def rule_sql(self) -> str:
        """A CASE expression naming the first broken rule, or NULL for a good row."""
        if not self.rules:
            return "CAST(NULL AS VARCHAR)"
        cases = " ".join(f"WHEN {r.condition} THEN {_literal(r.name)}" for r in self.rules)
        return f"CASE {cases} END"


def plan_checks(job: Job, described: dict[str, str]) -> CheckPlan:
    """The rules and output casts of ``job``, given its query's columns and types."""
    declared = job.column_map
    if declared:
        _check_schema(job, described)
    columns = [
        declared.get(name) or Column(name=name, type=type_, feast_type="")
        for name, type_ in described.items()
    ]
    keys = {*job.entities, job.timestamp}
    rules: list[Rule] = []
    output: list[str] = []
    for column in columns:
        actual = described[column.name]
        ident = _ident(column.name)
        if column.not_null or column.name in keys:
            rules.append(Rule(f"{column.name} not null", f"{ident} IS NULL"))
        if actual != column.type:
            rules.append(Rule(f"{column.name} is {column.type}", _lossy(ident, actual, column)))
            output.append(f"CAST({ident} AS {column.type}) AS {ident}")
        else:
            output.append(ident)
        if column.min is not None:
            rules.append(Rule(f"{column.name} >= {_num(column.min)}", f"{ident} < {column.min}"))
        if column.max is not None:
            rules.append(Rule(f"{column.name} <= {_num(column.max)}", f"{ident} > {column.max}"))
        if column.allowed is not None:
            values = ", ".join(column.allowed)
            rules.append(Rule(f"{column.name} in ({values})", f"{ident} NOT IN ({values})"))
    return CheckPlan(rules=tuple(rules), output=tuple(output))


def _check_schema(job: Job, described: dict[str, str]) -> None:
    declared = job.column_map
    problems = [
        f"declared column {name!r} is missing" for name in declared if name not in described
    ]
    problems += [
        f"column {name!r} ({type_}) is not declared in the header"
        for name, type_ in described.items()
        if name not in declared
    ]
    for name, column in declared.items():
        actual = described.get(name)
        if actual is None or actual == column.type:
            continue
        family = "numeric" if _numeric(actual) else actual
        if column.type not in _CONVERTIBLE.get(family, set()):
            problems.append(f"column {name!r} is {actual}, declared {column.type}")
    if problems:
        raise SchemaDriftError(job.name, f"the output of {job.path}", problems)


def _lossy(ident: str, actual: str, column: Column) -> str:
    converted = f"TRY_CAST({ident} AS {column.type})"
    if _numeric(actual) and column.type in _INTEGER_TYPES:
        # 3.5 -> BIGINT rounds to 4: catch the loss, not only the failure.
        return f"({ident} IS NOT NULL AND ({converted} IS NULL OR {converted} <> {ident}))"
    return f"({ident} IS NOT NULL AND {converted} IS NULL)"


def _numeric(type_: str) -> bool:
    return type_ in _NUMERIC_TYPES or type_.startswith("DECIMAL")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
