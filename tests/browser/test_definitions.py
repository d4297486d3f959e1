"""Definitions and schedules in a real browser (chromium), through nginx: run a
definition from its form (a field error first, then fixed; the job's page and its
log), and pause and resume a schedule."""

import re
import uuid

from playwright.sync_api import expect

from .screenshots import screenshot


def create_definition(client, **fields) -> dict:
    body = {
        "name": f"report_{uuid.uuid4().hex[:8]}",
        "description": "The team's weekly report",
        "shell": "bash",
        "code": 'echo "$title for $team, $weeks weeks, formats: $formats, draft: $draft"',
        "parameters": [
            {"name": "team", "type": "choice", "choices": ["data", "infra", "web"],
             "required": True, "description": "Whose report"},
            {"name": "weeks", "type": "integer", "default": 1, "min": 1, "max": 52,
             "description": "How many weeks back"},
            {"name": "formats", "type": "multichoice", "choices": ["pdf", "csv", "html"],
             "default": ["pdf"]},
            {"name": "draft", "type": "boolean", "default": False},
            # RE2's (?i): no browser check (JavaScript reads it otherwise), the server's.
            {"name": "title", "type": "string", "pattern": "(?i)[a-z ]+", "default": "report",
             "description": "Letters and spaces"},
        ],
        **fields,
    }  # fmt: skip
    response = client.post("/api/definitions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_run_a_definition_from_its_form_a_field_error_then_fixed(signed_in, stack):
    page, client = signed_in, signed_in.user
    definition = create_definition(client)
    page.click("#nav-definitions")
    page.wait_for_url(f"{stack}/ui/definitions")
    page.goto(f"{stack}/ui/definitions?limit=1000")  # every one on one page
    page.click(f'tr[data-definition="{definition["name"]}"] a')
    page.wait_for_url(re.compile(rf"/ui/definitions/{definition['name']}\?owner="))
    expect(page.locator("#definition-description")).to_have_text("The team's weekly report")
    # Checked in the browser before sending: a required choice left unchosen.
    page.click("#run")
    assert page.evaluate("document.querySelector('#param-team').validity.valueMissing")
    assert "/run" not in page.url
    page.select_option("#param-team", "infra")
    page.select_option("#param-formats", ["pdf", "csv"])
    page.check("#param-draft")
    # Checked in the browser too: the parameter's maximum.
    page.fill("#param-weeks", "53")
    page.click("#run")
    assert page.evaluate("document.querySelector('#param-weeks').validity.rangeOverflow")
    assert "/run" not in page.url
    page.fill("#param-weeks", "4")
    # The server's check: the pattern, which only the server reads.
    page.fill("#param-title", "Q3 report!")
    page.click("#run")
    expect(page.locator("#error-param-title")).to_have_text("must match the pattern (?i)[a-z ]+")
    expect(page.locator("#param-title")).to_have_attribute("aria-invalid", "true")
    page.locator("#param-title").scroll_into_view_if_needed()
    screenshot(page, "definition")
    expect(page.locator("#param-team")).to_have_value("infra")
    expect(page.locator("#param-weeks")).to_have_value("4")
    expect(page.locator("#param-draft")).to_be_checked()
    assert page.eval_on_selector_all(
        "#param-formats option:checked", "options => options.map(o => o.value)"
    ) == ["pdf", "csv"]
    page.fill("#param-title", "Quarterly report")
    page.click("#run")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"))
    expect(page.locator("#log")).to_contain_text(
        "Quarterly report for infra, 4 weeks, formats: pdf,csv, draft: true", timeout=15000
    )
    job_id = page.locator("#job-id").inner_text()
    job = client.get(f"/api/jobs/{job_id}").json()["data"]
    assert job["definition_name"] == definition["name"]
    assert job["parameters"]["weeks"] == 4


def test_pause_and_resume_a_schedule(signed_in, stack):
    page, client = signed_in, signed_in.user
    definition = create_definition(client)
    response = client.post(
        "/api/schedules",
        json={
            "definition": definition["name"],
            "cron": "30 2 * * MON-FRI",
            "timezone": "Europe/Berlin",
            "parameters": {"team": "data"},
            "description": "weekday report",
        },
    )
    assert response.status_code == 200, response.text
    schedule = response.json()["data"]
    page.click("#nav-schedules")
    page.wait_for_url(f"{stack}/ui/schedules")
    row = page.locator(f'tr[data-schedule="{schedule["id"]}"]')
    expect(row.locator(".state span")).to_have_text("on")
    expect(row.locator(".next-fire")).to_contain_text(schedule["next_fires"][0]["local"])
    screenshot(page, "schedules")
    row.locator(f"#pause-{schedule['id']}").click()
    page.wait_for_url(f"{stack}/ui/schedules")
    expect(row.locator(".state span")).to_have_text("paused")
    assert client.get(f"/api/schedules/{schedule['id']}").json()["data"]["enabled"] is False
    row.locator(f"#resume-{schedule['id']}").click()
    page.wait_for_url(f"{stack}/ui/schedules")
    expect(row.locator(".state span")).to_have_text("on")
    data = client.get(f"/api/schedules/{schedule['id']}").json()["data"]
    assert data["enabled"] is True and data["next_fires"]
    # Its own page: the next ticks and the definition it runs.
    row.locator(f'a[href="/ui/schedules/{schedule["id"]}"]').click()
    expect(page.locator("#schedule-cron")).to_have_text("30 2 * * MON-FRI")
    expect(page.locator("#next-fires li")).to_have_count(5)
