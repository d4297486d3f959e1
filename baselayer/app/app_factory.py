"""Building the Tornado application from an app's route table."""

import logging

import tornado.web

from .config import Config
from .handlers.base import NotFoundHandler
from .handlers.docs import docs_routes, docs_settings
from .openapi import build_spec

access_log = logging.getLogger("tornado.access")

#: Requests slower than this are logged even when they succeed.
SLOW_REQUEST_SECONDS = 1.0


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Log errors and slow requests only.

    NGINX's access log has every request, and a line per request costs the worker
    (and supervisor) more than some requests do. 5xx but 503 are errors; 4xx,
    503 and requests slower than SLOW_REQUEST_SECONDS are warnings.

    Parameters
    ----------
    handler : tornado.web.RequestHandler
        The finished request's handler.
    """
    status = handler.get_status()
    seconds = handler.request.request_time()
    if status < 400 and seconds < SLOW_REQUEST_SECONDS:
        return
    # A 503 (the database restarting, say) is for the client to retry, not a bug.
    level = logging.ERROR if status >= 500 and status != 503 else logging.WARNING
    request = handler.request
    # The client's address as NGINX saw it (the worker's peer is NGINX).
    client = request.headers.get("X-Real-Ip", request.remote_ip)
    access_log.log(
        level, "%d %s %s (%s) %.1f ms", status, request.method, request.uri, client, 1000 * seconds
    )


def make_app(
    cfg: Config,
    routes: list,
    *,
    session_factory,
    version: str,
    schemas: dict,
    description: str,
    path_examples: dict[str, str] | None = None,
    **settings,
) -> tornado.web.Application:
    """A Tornado application serving ``routes``, the docs page and the OpenAPI document.

    Parameters
    ----------
    cfg : Config
        Reads ``app.title``, ``server.host``, ``server.port`` and the root's README.md.
    routes : list of (pattern, handler class)
        The app's API; documented from the handlers' docstrings.
    session_factory : sessionmaker
        The handlers' ORM sessions (``BaseHandler.session``).
    version : str
        Carried by every response and the OpenAPI document.
    schemas : dict
        Marshmallow schemas the docstrings name, by component name.
    description : str
        The OpenAPI document's description (markdown).
    path_examples : dict, optional
        Path parameter name -> the value the docs' curl examples show for it.
    settings
        Extra Tornado settings (handlers read them as ``self.settings``).

    Returns
    -------
    tornado.web.Application
        Not listening yet; any other path answers 404 (``NotFoundHandler``).

    Raises
    ------
    yaml.YAMLError
        A handler's docstring holds YAML that does not parse (``build_spec``).
    """
    spec = build_spec(
        title=cfg["app.title"],
        version=version,
        description=description,
        routes=routes,
        schemas=schemas,
        security_description="Send `Authorization: token <your token>`.",
        base_url=f"http://{cfg['server.host']}:{cfg['server.port']}",
        path_examples=path_examples,
    )
    return tornado.web.Application(
        routes + docs_routes(),
        default_handler_class=NotFoundHandler,
        log_function=log_request,
        session_factory=session_factory,
        version=version,
        config=cfg,
        **docs_settings(spec, cfg.root / "README.md"),
        **settings,
    )
