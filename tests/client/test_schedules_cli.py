"""The schedule commands' parsing and table (no service needed)."""

import argparse

import pytest

from shell_service.client.cli import build_parser
from shell_service.client.definitions_cli import param_pair
from shell_service.client.schedules_cli import schedule_table, version_arg


def schedule(**fields) -> dict:
    shown = {
        "id": 7, "definition": "nightly", "cron": "30 2 * * *", "timezone": "Europe/Berlin",
        "enabled": True, "next_fires": [{"utc": "x", "local": "2026-12-01T02:30:00+01:00"}],
        "last_fires": [],
    }  # fmt: skip
    return {**shown, **fields}


def test_the_table_shows_the_next_local_tick_and_the_last_fire():
    fired = schedule(last_fires=[{"job_id": "job_1", "job_status": "COMPLETE", "skipped": None}])
    paused = schedule(id=8, enabled=False, next_fires=[])
    header, first, second = schedule_table([fired, paused]).splitlines()
    assert header.split() == [
        "ID",
        "DEFINITION",
        "CRON",
        "TIMEZONE",
        "STATE",
        "NEXT",
        "(LOCAL)",
        "LAST",
    ]
    assert first.split() == ["7", "nightly", "30", "2", "*", "*", "*", "Europe/Berlin", "on",
                             "2026-12-01T02:30:00+01:00", "job_1", "COMPLETE"]  # fmt: skip
    assert second.split()[-3:] == ["paused", "-", "-"]


def test_a_skip_reason_quoting_another_users_text_cannot_drive_the_terminal():
    hostile = "must match the pattern \x1b]0;owned\x07\x1b[2J\nnext line"
    table = schedule_table([schedule(last_fires=[{"job_id": None, "skipped": hostile}])])
    assert "\x1b" not in table and "\x07" not in table
    assert "\\x1b]0;owned\\x07\\x1b[2J next line" in table
    assert len(table.splitlines()) == 2


def test_params_and_versions_are_parsed_or_refused():
    assert param_pair("day=2026-11-30=x") == ("day", "2026-11-30=x")
    assert version_arg("latest") == "latest" and version_arg("3") == 3
    for bad in ("=x", "nothing"):
        with pytest.raises(argparse.ArgumentTypeError):
            param_pair(bad)
    for bad in ("0", "-1", "newest", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            version_arg(bad)


def test_schedule_create_needs_a_cron_expression(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["schedule", "create", "nightly"])
    assert exited.value.code == 2 and "--cron" in capsys.readouterr().err
    args = build_parser().parse_args(
        [
            "schedule",
            "create",
            "nightly",
            "--cron",
            "@daily",
            "--param",
            "a=1",
            "--catch-up",
            "latest",
        ]
    )
    assert (args.cron, args.param, args.catch_up) == ("@daily", [("a", "1")], "latest")


def test_schedule_create_reads_a_secret_from_a_file_and_sends_it_as_a_parameter(tmp_path):
    from shell_service.client.schedules_cli import cmd_schedule_create

    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    args = build_parser().parse_args(
        ["schedule", "create", "nightly", "--cron", "@daily", "--param", "DAY=x",
         "--param-file", f"PW={secret}"]
    )  # fmt: skip
    sent = {}

    class FakeApi:
        def call(self, method, path, json):
            sent.update(json)
            return {"data": {"id": 7, "next_fires": []}}

    assert cmd_schedule_create(FakeApi(), args) == 0
    assert sent["parameters"] == {"DAY": "x", "PW": "s3cret"}
