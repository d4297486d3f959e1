"""Screenshots of the dashboard's pages for the README, taken by the browser tests.

``make screenshots`` runs the browser tests with ``SCREENSHOTS_DIR`` set (to
``docs/screenshots``); a test calls :func:`screenshot` once its page shows what the
README should. Without ``SCREENSHOTS_DIR`` (``make test``) nothing is written.
"""

import os
from pathlib import Path

#: The pages' width and height in the README's images (CSS pixels).
VIEWPORT = {"width": 1280, "height": 800}


def screenshot(page, name: str, mask=None, height: int = VIEWPORT["height"]) -> Path | None:
    """Save what ``page`` shows as ``<SCREENSHOTS_DIR>/<name>.png`` (the viewport only).

    Parameters
    ----------
    page : playwright.sync_api.Page
    name : str
        The file's name without ``.png`` (the README links ``docs/screenshots/<name>.png``).
    mask : list of playwright.sync_api.Locator, optional
        What to paint over in the image (a secret on the page).
    height : int
        The image's height in CSS pixels (a taller page shows more of itself).

    Returns
    -------
    pathlib.Path or None
        The file written; None when ``SCREENSHOTS_DIR`` is not set.
    """
    folder = os.environ.get("SCREENSHOTS_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    page.screenshot(path=str(path), mask=mask or [], mask_color="#8a8f98")
    return path
