"""Whether a process still runs: how a crashed writer's leftovers are told from a live one's
(the run history's ``running`` rows, the serving log's temporary files)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
