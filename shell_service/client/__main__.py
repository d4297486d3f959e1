"""``python -m shell_service.client``: the same as the ``shell-service`` command."""

from .cli import main

if __name__ == "__main__":
    main()
