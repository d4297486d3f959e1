"""Building the Tornado application from an app's route table."""

import tornado.web

from .config import Config
from .handlers.base import NotFoundHandler
from .handlers.docs import docs_routes, docs_settings
from .openapi import build_spec


def make_app(
    cfg: Config,
    routes: list,
    *,
    session_factory,
    version: str,
    schemas: dict,
    description: str,
    **settings,
) -> tornado.web.Application:
    """A Tornado application serving ``routes``, the docs page and the OpenAPI document.

    Parameters
    ----------
    routes : list of (pattern, handler class)
        The app's API; documented from the handlers' docstrings.
    schemas : dict
        Marshmallow schemas the docstrings name, by component name.
    settings
        Extra Tornado settings (handlers read them as ``self.settings``).
    """
    spec = build_spec(
        title=cfg["app.title"],
        version=version,
        description=description,
        routes=routes,
        schemas=schemas,
        security_description="Send `Authorization: token <your token>`.",
        base_url=f"http://{cfg['server.host']}:{cfg['server.port']}",
    )
    return tornado.web.Application(
        routes + docs_routes(),
        default_handler_class=NotFoundHandler,
        session_factory=session_factory,
        version=version,
        config=cfg,
        **docs_settings(spec, cfg.root / "README.md"),
        **settings,
    )
