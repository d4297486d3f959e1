"""Stats: jobs per state and queue now, and per hour the jobs ended and their queue wait."""

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import BaseHandler
from baselayer.app.models import utcnow

from ... import schemas, stats


def stats_owner(user: CurrentUser, asked: int | None) -> int | None:
    """Whose jobs the stats count: a user's own, always; an admin's choice
    (``asked``), else everyone's. The API and the overview page both ask this.

    Parameters
    ----------
    user : CurrentUser
    asked : int or None
        The ``submitter_id`` asked for.

    Returns
    -------
    int or None
        A submitter's id, or None for everyone's.
    """
    if not user.is_admin:
        return user.id
    return asked


class StatsHandler(BaseHandler):
    """``GET /api/stats``: the figures of the caller's jobs (an admin's: everyone's,
    or one user's), from hourly rollups (``shell_service/stats.py``)."""

    current_user: CurrentUser

    async def get(self):
        """
        ---
        summary: Job stats
        description: |
          Your jobs' figures (an admin's: everyone's, or `submitter_id`'s): jobs per
          state and per queue now (READY, QUEUED, RUNNING counted now; the ended
          states' totals since the stats began), and for each of the last `hours`
          hours (by the jobs' ends, the current hour last) the jobs ended per
          outcome and the queue wait's (queued -> started) p50 and p95 in seconds.
          The waits are counted in log-spaced buckets (four per doubling), so a
          percentile is within `wait_resolution` (9%) of the true one. A retried
          job counts once, when its last attempt ends. Read from hourly rollups
          (kept by the stats service) plus the ends of the last few seconds.
        tags: [stats]
        security: [{token: []}]
        parameters:
          - {in: query, schema: StatsQuery}
        responses:
          200:
            content: {application/json: {schema: StatsEnvelope}}
          400: BadRequest
          401: Unauthorized
        """
        args = self.load_query(schemas.StatsQuery)
        owner = stats_owner(self.current_user, args.get("submitter_id"))
        self.success(stats.job_stats(self.sql, owner, utcnow(), args["hours"]))
