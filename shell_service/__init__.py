"""shell_service: run users' shell scripts behind an HTTP API."""

__version__ = "0.1.0"
