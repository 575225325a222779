"""Schemathesis over the live OpenAPI description: the spec says exactly what the server does.

The server is the one ``featurestore serve`` runs (uvicorn with ``api.protocol``) over the
small online repo on a real Redis, with rows written. Every operation of its
``/openapi.json`` gets schemathesis' examples, coverage and fuzzing phases, with valid and
invalid data, under every check: no server error, status codes, content types, headers
and bodies as documented, invalid data refused, valid data not refused but for 404 (an
unknown name) and 422 (a request the registry cannot answer) the schema cannot rule out,
405 with ``Allow`` for undocumented methods. On top of those, every error body is exactly
``{"detail": str, "code": str}``.

The seed is fixed. The fuzzing phase sends 50 examples per operation and mode under
``make test``, 200 under ``make reliability`` (``tests/reliability.py``), or
``FEATURESTORE_FUZZ_EXAMPLES``; that is read when the module is imported, before the
suite's fixtures clear ``FEATURESTORE_*``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema

from api.settings import ApiSettings
from tests.online_repo import OnlineRepo, ServerThread, online_repo  # noqa: F401
from tests.reliability import Figures, scaled

pytestmark = [pytest.mark.redis, pytest.mark.reliability]

EXAMPLES = int(os.environ.get("FEATURESTORE_FUZZ_EXAMPLES") or scaled(50, 200))
SEED = 13
KEY = "fuzz-key"
NOW = datetime.now(UTC)


def _config(url: str, headers: dict[str, str]) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "continue-on-failure": True,
            "base-url": url,
            "headers": headers,
            "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},  # no links between operations to follow
            },
            "checks": {
                "enabled": True,
                # Valid by the schema is not valid by the registry: a feature name the
                # registry does not have is a 422, an unknown view or service a 404.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]},
            },
        }
    )


@pytest.fixture(scope="module")
def rows(online_repo: OnlineRepo) -> OnlineRepo:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "item_stats",
        {"item_id": ["i1"], "price": [9.5], "title": ["a"], "event_timestamp": [NOW]},
    )
    return online_repo


@dataclass
class Outcome:
    cases: Counter[str] = field(default_factory=Counter)  # by phase
    operations: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # of every response


def _description(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The server's description once it has the registry's examples (built at start-up
    in a thread), so that the examples phase sends lookups that find rows."""
    deadline = time.monotonic() + 30
    while True:
        spec: dict[str, Any] = httpx.get(f"{url}/openapi.json", headers=headers).json()
        body = spec["paths"]["/get-online-features"]["post"]["requestBody"]
        if "examples" in body["content"]["application/json"]["schema"]:
            return spec
        assert time.monotonic() < deadline, "no OpenAPI examples after 30 s"
        time.sleep(0.1)


def fuzz(url: str, headers: dict[str, str]) -> Outcome:
    """Run schemathesis' engine (what its CLI runs) over the server's description."""
    schema = schemathesis.openapi.from_dict(
        _description(url, headers), config=_config(url, headers)
    )
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(event, outcome)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            outcome.problems.append(f"{getattr(event, 'label', '')}: {event.info.format()}")
    return outcome


def _record(event: events.ScenarioFinished, outcome: Outcome) -> None:
    recorder = event.recorder
    outcome.cases[event.phase.value] += len(recorder.cases)
    outcome.operations.add(recorder.label)
    for checks in recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                outcome.problems.append(
                    f"{recorder.label}: {check.name}: {failure.title}: {failure.message}\n"
                    f"  {check.failure_info.code_sample}"
                )
    for interaction in recorder.interactions.values():
        response = interaction.response
        if response is not None:
            outcome.statuses[response.status_code] += 1
        if response is None or response.status_code < 400:
            continue
        try:
            body = json.loads(response.content)
        except ValueError:
            body = response.content[:200]
        if not (
            isinstance(body, dict)
            and set(body) == {"detail", "code"}
            and all(isinstance(value, str) for value in body.values())
        ):
            request = interaction.request
            outcome.problems.append(
                f"{request.method} {request.uri[:200]}: {response.status_code} is not "
                f"{{detail, code}}: {body!r}"
            )


@pytest.mark.parametrize("auth", ["open", "api-keys"])
def test_the_spec_describes_the_server(rows: OnlineRepo, auth: str, figures: Figures) -> None:
    keys = (KEY,) if auth == "api-keys" else ()
    api = ApiSettings(registry_refresh_seconds=0, api_keys=keys)
    headers = {"Authorization": f"Bearer {KEY}"} if keys else {}
    with ServerThread(rows.settings, api) as server:
        outcome = fuzz(server.url, headers)
    phases = ", ".join(f"{n} {phase}" for phase, n in outcome.cases.items())
    print(
        f"\nfuzz ({auth}): {outcome.cases.total()} cases ({phases}), {len(outcome.operations)} ops"
    )
    figures.record(
        "fuzz",
        f"all operations, {auth}",
        examples_per_operation=EXAMPLES,
        seed=SEED,
        cases=outcome.cases.total(),
        operations=len(outcome.operations),
        statuses=dict(sorted(outcome.statuses.items())),
        server_errors=sum(n for status, n in outcome.statuses.items() if status >= 500),
        problems=len(outcome.problems),
    )
    assert len(outcome.operations) == 16, sorted(outcome.operations)
    assert not outcome.problems, "\n".join(dict.fromkeys(outcome.problems))
