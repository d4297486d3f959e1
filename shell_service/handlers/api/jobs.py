"""Jobs: create, list, read, execute, and read a job's history."""

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from baselayer.app.handlers.base import APIError, BaseHandler

from ... import queue, schemas
from ...models import Job, JobEvent


class JobAccessMixin:
    """Finding jobs the current user may see: their own, or any for an admin."""

    def visible_jobs(self):
        query = select(Job)
        if not self.current_user.is_admin:
            query = query.where(Job.submitter_id == self.current_user.id)
        return query

    def get_job_or_404(self, job_id: str) -> Job:
        # Someone else's job answers exactly like a missing one. (No stored id
        # holds a NUL, and PostgreSQL refuses one in a query.)
        job = None
        if "\x00" not in job_id:
            job = self.session.scalar(self.visible_jobs().where(Job.id == job_id))
        if job is None:
            raise APIError(404, f"No job with id {job_id!r}")
        return job


class JobHandler(JobAccessMixin, BaseHandler):
    async def get(self, job_id: str | None = None):
        """
        ---
        single:
          summary: Read one job
          description: The job's state and, once it has ended, its output and return code.
          tags: [jobs]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: JobEnvelope}}
            401:
              content: {application/json: {schema: Error}}
            404:
              description: No such job, or not yours
              content: {application/json: {schema: Error}}
        multiple:
          summary: List jobs
          description: Your jobs (for an admin, everyone's), newest first.
          tags: [jobs]
          security: [{token: []}]
          parameters:
            - {in: query, schema: JobListQuery}
          responses:
            200:
              content: {application/json: {schema: JobListEnvelope}}
            400:
              content: {application/json: {schema: Error}}
            401:
              content: {application/json: {schema: Error}}
        """
        if job_id is not None:
            return self.success(schemas.Job().dump(self.get_job_or_404(job_id)))
        args = self.load_query(schemas.JobListQuery())
        jobs = self.session.scalars(
            self.visible_jobs()
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(args["limit"])
            .offset(args["offset"])
        ).all()
        self.success(schemas.Job(many=True).dump(jobs))

    async def post(self, job_id: str | None = None):
        """
        ---
        multiple:
          summary: Create a job
          description: |
            Stores the script as a READY job owned by you. It does not run until
            you execute it (`POST /api/jobs/{job_id}/execute`).
          tags: [jobs]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: JobCreate}}
          responses:
            200:
              content: {application/json: {schema: JobIdEnvelope}}
            400:
              description: Bad JSON, a missing or unknown field, or an invalid name
              content: {application/json: {schema: Error}}
            401:
              content: {application/json: {schema: Error}}
            409:
              description: A job with this id exists already
              content: {application/json: {schema: Error}}
        """
        if job_id is not None:
            raise APIError(405, "POST a new job to /api/jobs")
        body = self.load_body(schemas.JobCreate())
        job = Job(
            id=body.get("id") or f"job_{uuid.uuid4().hex}",
            code=body["code"],
            shell=self.settings["config"]["jobs.default_shell"],
            status="READY",
            submitter_id=self.current_user.id,
        )
        queue.create_job(self.session, job, self.current_user.id)
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            raise APIError(409, f"A job with id {job.id!r} exists already")
        self.success({"id": job.id})


class JobExecuteHandler(JobAccessMixin, BaseHandler):
    def submit(self, job_id: str):
        job = self.get_job_or_404(job_id)
        if not queue.submit_job(self.session, job, self.current_user.id):
            raise APIError(409, f"Job {job_id!r} is {job.status}; only a READY job can be executed")
        self.session.commit()
        self.success({"id": job_id, "status": "QUEUED"})

    async def post(self, job_id: str):
        """
        ---
        summary: Execute a job
        description: |
          Queues a READY job. It starts as soon as the host has capacity; the call
          returns at once. Poll `GET /api/jobs/{job_id}` for its state.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobSubmittedEnvelope}}
          401:
            content: {application/json: {schema: Error}}
          404:
            content: {application/json: {schema: Error}}
          409:
            description: The job is not READY (it was executed already)
            content: {application/json: {schema: Error}}
        """
        self.submit(job_id)

    async def get(self, job_id: str):
        """
        ---
        summary: Execute a job (the original service's call)
        description: The same as `POST /api/jobs/{job_id}/execute`, kept for old clients.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobSubmittedEnvelope}}
          401:
            content: {application/json: {schema: Error}}
          404:
            content: {application/json: {schema: Error}}
          409:
            content: {application/json: {schema: Error}}
        """
        self.submit(job_id)


class JobEventsHandler(JobAccessMixin, BaseHandler):
    async def get(self, job_id: str):
        """
        ---
        summary: A job's history
        description: Every state change of the job, oldest first, with who caused it.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobEventListEnvelope}}
          401:
            content: {application/json: {schema: Error}}
          404:
            content: {application/json: {schema: Error}}
        """
        job = self.get_job_or_404(job_id)
        events = self.session.scalars(
            select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.id)
        ).all()
        self.success(schemas.JobEvent(many=True).dump(events))
