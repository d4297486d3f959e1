"""The interpreters jobs may name (``jobs.shells``) that are installed here.

The app workers accept a job's ``shell`` from these; the executor resolves the
interpreter's path with the same lookup at its start.
"""

import shutil

#: Where the service looks for interpreters, and the PATH a job starts with.
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def available_shells(names: list[str]) -> dict[str, str]:
    """The configured interpreters installed here, in config order.

    Parameters
    ----------
    names : list of str
        Interpreter names (``jobs.shells``), looked up in ``BASE_PATH`` only.

    Returns
    -------
    dict
        name -> absolute path, for the names found.
    """
    found = {}
    for name in names:
        path = shutil.which(name, path=BASE_PATH)
        if path:
            found[name] = path
    return found
