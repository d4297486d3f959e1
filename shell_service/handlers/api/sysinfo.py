"""Health: answers without a token, so load balancers and `make run` can ask."""

from baselayer.app.handlers.base import BaseHandler

from ... import queue


class SysinfoHandler(BaseHandler):
    auth_required = False

    async def get(self):
        """
        ---
        summary: Service health
        description: |
          The version, how many jobs are in each state, and which isolation layers
          this host gives jobs. No token needed.
        tags: [system]
        responses:
          200:
            content: {application/json: {schema: SysinfoEnvelope}}
        """
        self.success(
            {
                "version": self.settings["version"],
                "jobs_by_status": queue.count_by_status(self.session),
                "isolation": self.settings["executor"].isolation(),
            }
        )
