"""Editing and deleting definitions and schedules in a real browser (chromium), through
nginx: a definition edited to a new version and run; a schedule's cron refused, then
fixed; both deleted after the browser's confirmation (dismissed first: nothing goes)."""

import re
import uuid

from playwright.sync_api import expect


def create_definition(client) -> dict:
    body = {
        "name": f"edited_{uuid.uuid4().hex[:8]}",
        "description": "Greets a team",
        "shell": "bash",
        "code": 'echo "hello $team"',
        "parameters": [{"name": "team", "type": "choice", "choices": ["data", "web"],
                        "required": True}],
    }  # fmt: skip
    response = client.post("/api/definitions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_edit_a_definition_to_a_new_version_and_run_it(signed_in, stack):
    page, client = signed_in, signed_in.user
    definition = create_definition(client)
    page.goto(f"{stack}/ui/definitions/{definition['name']}?owner={definition['owner']}")
    page.click("#edit-definition")
    page.wait_for_url(re.compile(rf"/ui/definitions/{definition['name']}/edit\?owner="))
    typed = page.input_value("#definition-body")
    assert typed.startswith(f"name: {definition['name']}\n")
    page.fill("#definition-body", typed.replace('"hello $team"', '"good morning, $team"'))
    page.click("#save-definition")
    page.wait_for_url(re.compile(rf"/ui/definitions/{definition['name']}\?owner="))
    expect(page.locator("#definition-version")).to_have_text("2")
    expect(page.locator("#script")).to_have_text('echo "good morning, $team"')
    page.select_option("#param-team", "web")
    page.click("#run")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"))
    expect(page.locator("#log")).to_contain_text("good morning, web", timeout=15000)
    job = client.get(f"/api/jobs/{page.locator('#job-id').inner_text()}").json()["data"]
    assert job["definition_version"] == 2


def test_edit_a_schedules_cron_with_an_error_then_fixed_and_delete_both(signed_in, stack):
    page, client = signed_in, signed_in.user
    definition = create_definition(client)
    response = client.post(
        "/api/schedules",
        json={
            "definition": definition["name"],
            "cron": "30 2 * * MON-FRI",
            "timezone": "Europe/Berlin",
            "parameters": {"team": "data"},
        },
    )
    assert response.status_code == 200, response.text
    schedule = response.json()["data"]
    page.goto(f"{stack}/ui/schedules/{schedule['id']}")
    page.click("#edit-schedule")
    page.wait_for_url(f"{stack}/ui/schedules/{schedule['id']}/edit")
    expect(page.locator("#cron")).to_have_value("30 2 * * MON-FRI")
    expect(page.locator("#param-team")).to_have_value("data")
    page.fill("#cron", "0 15 3 * * *")  # six fields: seconds, which cron has not
    page.click("#save-schedule")
    expect(page.locator("#error-cron")).to_contain_text("must have five fields")
    expect(page.locator("#cron")).to_have_value("0 15 3 * * *")
    expect(page.locator("#timezone")).to_have_value("Europe/Berlin")
    page.fill("#cron", "15 3 * * *")
    page.click("#save-schedule")
    page.wait_for_url(f"{stack}/ui/schedules/{schedule['id']}")
    expect(page.locator("#schedule-cron")).to_have_text("15 3 * * *")
    expect(page.locator("#next-fires li").first).to_contain_text("03:15:00")
    assert client.get(f"/api/schedules/{schedule['id']}").json()["data"]["cron"] == "15 3 * * *"

    # Delete asks first: dismissed, the schedule stays.
    questions = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#delete-schedule")
    expect(page.locator("#schedule-cron")).to_have_text("15 3 * * *")
    assert questions == [
        f"Delete schedule {schedule['id']}? Its record of ticks goes; the jobs it fired stay."
    ]
    assert client.get(f"/api/schedules/{schedule['id']}").status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-schedule")
    page.wait_for_url(f"{stack}/ui/schedules")
    expect(page.locator(f'tr[data-schedule="{schedule["id"]}"]')).to_have_count(0)
    assert client.get(f"/api/schedules/{schedule['id']}").status_code == 404

    page.goto(f"{stack}/ui/definitions/{definition['name']}?owner={definition['owner']}")
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.click("#delete-definition")
    page.wait_for_url(f"{stack}/ui/definitions")
    assert questions[-1] == (
        f"Delete the definition {definition['name']} and its 1 version? "
        "The jobs that ran from it stay, with its name and version."
    )
    expect(page.locator(f'tr[data-definition="{definition["name"]}"]')).to_have_count(0)
    assert client.get(f"/api/definitions/{definition['name']}").status_code == 404
