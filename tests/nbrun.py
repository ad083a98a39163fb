"""Papermill runs for the tests, with a per-cell execution timeout: a hung cell fails the test with nbclient's
``CellTimeoutError``, which quotes the cell's source, instead of hanging until CI is killed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# seconds one notebook cell may run under profile "ci" (the longest, a full iteration of notebook 03/04, takes a
# few minutes on 2 loaded cores)
CELL_TIMEOUT = 900


def execute_notebook(src: str | Path, out: str | Path, *, timeout: int = CELL_TIMEOUT, **kwargs: Any) -> Any:
    """``papermill.execute_notebook`` with ``execution_timeout`` per cell (nbclient's ``timeout``)."""
    import papermill as pm

    return pm.execute_notebook(str(src), str(out), execution_timeout=timeout, **kwargs)
