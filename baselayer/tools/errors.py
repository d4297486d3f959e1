"""The error every stack tool raises for a problem the user must fix (message, no traceback)."""


class StackError(RuntimeError):
    """The stack could not be set up, started or stopped."""


class ConfigError(StackError):
    """The app's check refused the config (``app.config_check_module``): nothing was
    started or restarted, and no log has anything to add."""
