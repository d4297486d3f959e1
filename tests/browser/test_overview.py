"""The overview in a real browser (chromium), through nginx: the counts, the
charts drawn on their canvases, and the failures link opening the filtered list."""

import re

from playwright.sync_api import expect

from .screenshots import screenshot
from .test_dashboard import create, wait_status

#: Whether a canvas has any pixel drawn (not all transparent).
CANVAS_DRAWN = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
  return false;
}"""


def test_the_overview_shows_counts_charts_and_links_to_the_failures(signed_in, stack):
    page, client = signed_in, signed_in.user
    ok = create(client, "true")
    bad = create(client, "exit 3")
    ready = create(client, "true", execute=False)
    wait_status(client, ok, {"COMPLETE"})
    wait_status(client, bad, {"FAILED"})
    page.click("#nav-overview")
    page.wait_for_url(f"{stack}/ui/")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("#count-READY")).to_have_text("1")
    expect(page.locator("#ended-FAILED")).to_have_text("1")
    expect(page.locator("#ended-COMPLETE")).to_have_text("1")
    expect(page.locator(f'#recent-failures tr[data-job="{bad}"]')).to_be_visible()
    for chart in ("#chart-finished", "#chart-wait"):
        expect(page.locator(chart)).to_have_attribute("data-drawn", "")
        canvas = page.locator(f"{chart} canvas").first
        expect(canvas).to_be_visible()
        assert canvas.evaluate("c => c.width") > 100
        assert canvas.evaluate(CANVAS_DRAWN), f"{chart} is blank"
    expect(page.locator("#chart-finished .u-legend")).to_contain_text("FAILED")
    screenshot(page, "overview")
    page.click("#failures-link")
    page.wait_for_url(re.compile(r"/ui/jobs\?preset=failed"))
    expect(page.locator(f'tr[data-job="{bad}"]')).to_be_visible()
    expect(page.locator(f'tr[data-job="{ok}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-job="{ready}"]')).to_have_count(0)
    # The brand link goes back to the overview.
    page.click("header nav ul li a >> nth=0")
    page.wait_for_url(f"{stack}/ui/")
