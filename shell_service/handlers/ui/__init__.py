"""The dashboard's pages (``/ui/``): server-rendered templates (``shell_service/templates/ui/``)
calling the same functions and access checks as the API handlers."""
