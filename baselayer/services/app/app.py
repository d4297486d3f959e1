"""One app worker (the supervisor programs ``app_NN``): serves the API on ``--socket``.

The API is the app's: this runs ``main(argv)`` of the module config names in
``app.server_module`` (``shell_service.app_server``), which builds the app's
routes on ``baselayer.app`` and listens on the unix socket.

    python -m baselayer.services.app.app --socket SOCKET
"""

import importlib

from baselayer.app.config import load_config


def main(argv: list[str] | None = None) -> None:
    """Start the app's server module with ``argv`` (``sys.argv[1:]`` when None)."""
    importlib.import_module(load_config()["app.server_module"]).main(argv)


if __name__ == "__main__":
    main()
