"""A report through the admission as a collector runs it, on in-memory state:
the decision (a Pending one for an id the process does not know), the store's
completion of it (``MemoryState.write``, as ``TrustTables.settle``), then the
writer's after-commit step (``Admission.committed``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tracking_collector.store import Pending, Report, Stored
from tracking_collector.trust.admission import Admission


def admit(
    admission: Admission, report: Report, address: Any, user_agent: str | None = None
) -> Stored:
    """What ``report`` from ``address`` is stored as (``held``, ``new``, ``created``);
    ``admission.state`` is a ``MemoryState``."""
    verdict = admission(report, address, user_agent)
    if isinstance(verdict, Pending):
        report = replace(report, cohort=verdict.source, pending=verdict)
    else:
        report = replace(report, held=verdict.held, cohort=verdict.cohort)
    stored = admission.state.write(report)
    admission.committed("add", (report,), stored)
    return stored
