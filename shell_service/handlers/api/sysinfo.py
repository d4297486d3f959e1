"""Health: answers without a token, so load balancers and `make run` can ask."""

from baselayer.app.handlers.base import BaseHandler

from ... import queue


class SysinfoHandler(BaseHandler):
    auth_required = False

    async def get(self):
        """
        ---
        summary: Service health
        description: The version and how many jobs are in each state. No token needed.
        tags: [system]
        responses:
          200:
            content: {application/json: {schema: SysinfoEnvelope}}
        """
        self.success(
            {
                "version": self.settings["version"],
                "jobs_by_status": queue.count_by_status(self.session),
            }
        )
