"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from featurestore.online import OnlineLookup


def _lookup(request: Request) -> OnlineLookup:
    lookup: OnlineLookup = request.app.state.lookup
    return lookup


Lookup = Annotated[OnlineLookup, Depends(_lookup)]
