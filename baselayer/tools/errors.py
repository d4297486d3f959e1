"""The error every stack tool raises for a problem the user must fix (message, no traceback)."""


class StackError(RuntimeError):
    """The stack could not be set up, started or stopped."""
