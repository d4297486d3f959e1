"""The overview in a real browser (chromium), through nginx: the counts, the
charts drawn on their canvases, and the failures link opening the filtered list."""

import re

from playwright.sync_api import expect

from .screenshots import screenshot
from .test_dashboard import create, wait_status

#: Whether a canvas has a pixel drawn in about the colour ``[r, g, b]`` (a series').
CANVAS_HAS_COLOUR = """([canvas, rgb]) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200 && Math.abs(data[i] - rgb[0]) < 30 && Math.abs(data[i + 1] - rgb[1]) < 30
        && Math.abs(data[i + 2] - rgb[2]) < 30) return true;
  }
  return false;
}"""
#: overview.js's colours of the FAILED series and of the wait's p50.
FAILED_RED, P50_BLUE = [217, 53, 38], [31, 111, 235]


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
    # Each chart drew its series: the failed job's hour in FAILED's red, the
    # waits' p50 in blue.
    for chart, colour in (("#chart-finished", FAILED_RED), ("#chart-wait", P50_BLUE)):
        expect(page.locator(chart)).to_have_attribute("data-drawn", "")
        canvas = page.locator(f"{chart} canvas").first
        expect(canvas).to_be_visible()
        assert canvas.evaluate("c => c.width") > 100
        canvas_handle = canvas.element_handle()
        assert page.evaluate(CANVAS_HAS_COLOUR, [canvas_handle, colour]), f"{chart}: no series"
    expect(page.locator("#chart-finished .u-legend")).to_contain_text("FAILED")
    screenshot(page, "overview", height=1500)
    page.click("#failures-link")
    page.wait_for_url(re.compile(r"/ui/jobs\?preset=failed"))
    expect(page.locator(f'tr[data-job="{bad}"]')).to_be_visible()
    expect(page.locator(f'tr[data-job="{ok}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-job="{ready}"]')).to_have_count(0)
    # The brand link goes back to the overview.
    page.click("header nav ul li a >> nth=0")
    page.wait_for_url(f"{stack}/ui/")
