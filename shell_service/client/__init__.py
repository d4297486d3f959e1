"""``shell-service``: the command-line client of the shell_service HTTP API.

Modules: ``settings`` (where the URL and token come from), ``api`` (HTTP calls and
their errors), ``watch`` (waiting for a job and streaming its output), ``output``
(tables and fields for people) and ``cli`` (the commands).
"""
