"""Requests waiting for jobs to end (``GET /api/jobs/{id}?wait=N``).

A job's end sends a NOTIFY with its id (``queue.ENDED_CHANNEL``), whichever
executor ran it; every app worker's listener wakes the requests waiting for that id.
"""

import asyncio
import contextlib
from collections import defaultdict

from baselayer.app.notifications import Listener

from .queue import ENDED_CHANNEL


class JobEndWaiters:
    """An app worker's readers waiting for jobs to end (``GET /api/jobs/<id>?wait=N``):
    one ENDED_CHANNEL subscription for all of them, each woken by its job's id."""

    def __init__(self, listener: Listener):
        self._waiting: dict[str, set[asyncio.Event]] = defaultdict(set)
        listener.subscribe(ENDED_CHANNEL, self._ended)

    @contextlib.contextmanager
    def watching(self, job_id: str):
        """An event set when ``job_id`` ends (or the listener is lost). Enter it
        before reading the job's state, so an end in between is not missed."""
        event = asyncio.Event()
        self._waiting[job_id].add(event)
        try:
            yield event
        finally:
            self._waiting[job_id].discard(event)
            if not self._waiting[job_id]:
                del self._waiting[job_id]

    def _ended(self, job_ids: list[str]) -> None:
        # No ids: the listener was lost; wake everyone to look again.
        for job_id in job_ids or list(self._waiting):
            for event in self._waiting.get(job_id, ()):
                event.set()
