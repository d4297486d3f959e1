"""The route table: every API path, every dashboard page, and the handler that serves it."""

from .handlers.api.definitions import (
    DefinitionHandler,
    DefinitionRunHandler,
    DefinitionVersionsHandler,
)
from .handlers.api.job_log import JobLogHandler
from .handlers.api.jobs import (
    JobCancelHandler,
    JobEventsHandler,
    JobExecuteHandler,
    JobHandler,
    JobRerunHandler,
    LegacyExecuteHandler,
)
from .handlers.api.queues import QueueHandler
from .handlers.api.schedules import ScheduleHandler
from .handlers.api.stats import StatsHandler
from .handlers.api.sysinfo import SysinfoHandler
from .handlers.api.tokens import TokenHandler
from .handlers.api.users import UserHandler
from .handlers.api.webhooks import WebhookDeliveriesHandler, WebhookHandler, WebhookTestHandler
from .handlers.metrics import MetricsHandler
from .handlers.ui.admin import (
    AdminRootHandler,
    AdminSystemHandler,
    AdminUserHandler,
    AdminUsersHandler,
)
from .handlers.ui.base import UIStaticHandler
from .handlers.ui.changes import (
    DefinitionDeletePage,
    DefinitionEditPage,
    ScheduleDeletePage,
    ScheduleEditPage,
)
from .handlers.ui.definitions import (
    DefinitionListPage,
    DefinitionPage,
    NewDefinitionPage,
    NewSchedulePage,
)
from .handlers.ui.jobs import (
    JobActionHandler,
    JobListHandler,
    JobPageHandler,
    JobRowsHandler,
    JobStateHandler,
)
from .handlers.ui.log import JobAttemptLogHandler, JobLogDownloadHandler, JobLogStreamHandler
from .handlers.ui.overview import OverviewHandler
from .handlers.ui.ready import JobEditPage, JobExecutePage
from .handlers.ui.schedules import ScheduleActionPage, ScheduleListPage, SchedulePage
from .handlers.ui.sessions import SessionsHandler, SignInHandler, SignOutHandler
from .handlers.ui.submit import SubmitHandler
from .handlers.ui.tokens import TokenRevokeHandler, TokensHandler
from .handlers.ui.webhooks import (
    WebhookActionPage,
    WebhookDeliveriesPart,
    WebhookListPage,
    WebhookPage,
)

_ID = r"[^/]+"

ROUTES = [
    (r"/api/jobs", JobHandler),
    (rf"/api/jobs/(?P<job_id>{_ID})", JobHandler),
    (rf"/api/jobs/(?P<job_id>{_ID})/execute", JobExecuteHandler),
    (rf"/api/jobs/(?P<job_id>{_ID})/cancel", JobCancelHandler),
    (rf"/api/jobs/(?P<job_id>{_ID})/rerun", JobRerunHandler),
    (rf"/api/jobs/(?P<job_id>{_ID})/log", JobLogHandler),
    (rf"/api/jobs/(?P<job_id>{_ID})/events", JobEventsHandler),
    (rf"/api/execute/(?P<job_id>{_ID})", LegacyExecuteHandler),
    (r"/api/definitions", DefinitionHandler),
    (rf"/api/definitions/(?P<name>{_ID})", DefinitionHandler),
    (rf"/api/definitions/(?P<name>{_ID})/versions", DefinitionVersionsHandler),
    (rf"/api/definitions/(?P<name>{_ID})/versions/(?P<version>{_ID})", DefinitionVersionsHandler),
    (rf"/api/definitions/(?P<name>{_ID})/run", DefinitionRunHandler),
    (r"/api/webhooks", WebhookHandler),
    (rf"/api/webhooks/(?P<webhook_id>{_ID})", WebhookHandler),
    (rf"/api/webhooks/(?P<webhook_id>{_ID})/deliveries", WebhookDeliveriesHandler),
    (rf"/api/webhooks/(?P<webhook_id>{_ID})/test", WebhookTestHandler),
    (r"/api/users", UserHandler),
    (rf"/api/users/(?P<user_id>{_ID})", UserHandler),
    (r"/api/tokens", TokenHandler),
    (rf"/api/tokens/(?P<token_id>{_ID})", TokenHandler),
    (r"/api/queues", QueueHandler),
    (rf"/api/queues/(?P<name>{_ID})", QueueHandler),
    (r"/api/schedules", ScheduleHandler),
    (rf"/api/schedules/(?P<schedule_id>{_ID})", ScheduleHandler),
    (r"/api/sysinfo", SysinfoHandler),
    (r"/api/stats", StatsHandler),
    (r"/metrics", MetricsHandler),
    # The dashboard: pages for browsers (a session cookie, not the Authorization header).
    # The overview (counts, my jobs, failures, hosts, charts): the dashboard's home.
    (r"/ui/?", OverviewHandler),
    (r"/ui/signin", SignInHandler),
    (r"/ui/signout", SignOutHandler),
    (r"/ui/sessions", SessionsHandler),
    (r"/ui/jobs", JobListHandler),
    (r"/ui/submit", SubmitHandler),
    # The list's rows alone (htmx's refresh): not under /ui/jobs/, where job ids are.
    (r"/ui/job-rows", JobRowsHandler),
    (rf"/ui/jobs/(?P<job_id>{_ID})", JobPageHandler),
    (rf"/ui/jobs/(?P<job_id>{_ID})/(?P<action>cancel|rerun|delete)", JobActionHandler),
    (rf"/ui/jobs/(?P<job_id>{_ID})/log", JobLogStreamHandler),
    (rf"/ui/jobs/(?P<job_id>{_ID})/download/(?P<stream>stdout|stderr)", JobLogDownloadHandler),
    # A READY job: queue it, or change it in the submit form.
    (rf"/ui/jobs/(?P<job_id>{_ID})/execute", JobExecutePage),
    (rf"/ui/jobs/(?P<job_id>{_ID})/edit", JobEditPage),
    # A job page's state section (htmx's refresh) and an earlier attempt's output.
    (rf"/ui/jobs/(?P<job_id>{_ID})/state", JobStateHandler),
    (rf"/ui/jobs/(?P<job_id>{_ID})/attempts/(?P<attempt>[0-9]{{1,9}})", JobAttemptLogHandler),
    (
        rf"/ui/jobs/(?P<job_id>{_ID})/attempts/(?P<attempt>[0-9]{{1,9}})"
        r"/download/(?P<stream>stdout|stderr)",
        JobAttemptLogHandler,
    ),
    # Definitions (their run forms) and schedules (pause, resume).
    (r"/ui/definitions", DefinitionListPage),
    (r"/ui/new-definition", NewDefinitionPage),
    (rf"/ui/definitions/(?P<name>{_ID})", DefinitionPage),
    (rf"/ui/definitions/(?P<name>{_ID})/run", DefinitionPage),
    (rf"/ui/definitions/(?P<name>{_ID})/new-schedule", NewSchedulePage),
    (rf"/ui/definitions/(?P<name>{_ID})/versions/(?P<version>{_ID})", DefinitionPage),
    (r"/ui/schedules", ScheduleListPage),
    (rf"/ui/schedules/(?P<schedule_id>{_ID})", SchedulePage),
    (rf"/ui/schedules/(?P<schedule_id>{_ID})/(?P<action>pause|resume)", ScheduleActionPage),
    # Editing and deleting definitions and schedules (the API's PUT, PATCH and DELETE).
    (rf"/ui/definitions/(?P<name>{_ID})/edit", DefinitionEditPage),
    (rf"/ui/definitions/(?P<name>{_ID})/delete", DefinitionDeletePage),
    (rf"/ui/schedules/(?P<schedule_id>{_ID})/edit", ScheduleEditPage),
    (rf"/ui/schedules/(?P<schedule_id>{_ID})/delete", ScheduleDeletePage),
    # Webhooks: a user's own (an admin's: everyone's), their deliveries, test, change, delete.
    (r"/ui/webhooks", WebhookListPage),
    (rf"/ui/webhooks/(?P<webhook_id>{_ID})", WebhookPage),
    (rf"/ui/webhooks/(?P<webhook_id>{_ID})/deliveries", WebhookDeliveriesPart),
    (
        rf"/ui/webhooks/(?P<webhook_id>{_ID})/(?P<action>enable|disable|test|delete)",
        WebhookActionPage,
    ),
    # Tokens (anyone's own) and the admin pages (admins only: 404 for anyone else).
    (r"/ui/tokens", TokensHandler),
    (rf"/ui/tokens/(?P<token_id>{_ID})/revoke", TokenRevokeHandler),
    (r"/ui/admin/?", AdminRootHandler),
    (r"/ui/admin/users", AdminUsersHandler),
    (rf"/ui/admin/users/(?P<user_id>{_ID})", AdminUserHandler),
    (rf"/ui/admin/users/(?P<user_id>{_ID})/(?P<action>{_ID})", AdminUserHandler),
    (r"/ui/admin/system", AdminSystemHandler),
    (r"/ui/static/(.*)", UIStaticHandler),
]
