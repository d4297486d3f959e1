"""The schedule clock (``shell_service.schedules``): pure functions of ``now``."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shell_service import schedules
from shell_service.schedules import ScheduleError, next_ticks, parse_cron, parse_timezone, plan

UTC = parse_timezone("UTC")
BERLIN = parse_timezone("Europe/Berlin")
T = dt.datetime(2026, 11, 30, 10, 0)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.mark.parametrize(
    ("shorthand", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_crontab_shorthands_become_five_fields(shorthand, fields):
    assert parse_cron(shorthand) == fields


def test_a_five_field_expression_is_kept_with_its_spacing_normalised():
    assert parse_cron("  */15  2-4 * * MON-FRI ") == "*/15 2-4 * * MON-FRI"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("@reboot", "@reboot is not supported"),
        ("@often", "unknown shorthand"),
        ("0 * * * * *", "five fields"),
        ("* * * *", "five fields"),
        ("", "five fields"),
        ("61 * * * *", "not a cron expression"),
        ("0 0 30 2 *", "not a cron expression"),
        ("a b c d e", "not a cron expression"),
        ("x" * 300, "at most 255"),
    ],
)
def test_bad_cron_expressions_are_refused_saying_why(text, says):
    with pytest.raises(ScheduleError) as caught:
        parse_cron(text)
    assert caught.value.field == "cron"
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "Europe/\0Berlin", "a" * 65]
)
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ScheduleError) as caught:
        parse_timezone(name)
    assert caught.value.field == "timezone"


def test_next_ticks_are_strictly_after_and_in_utc():
    assert next_ticks("*/20 * * * *", UTC, T, 3) == [
        T + minutes(20),
        T + minutes(40),
        T + minutes(60),
    ]


def test_a_schedule_in_a_time_zone_fires_at_its_local_time():
    # 09:00 in Tokyo is 00:00 UTC (no DST there).
    assert next_ticks("0 9 * * *", parse_timezone("Asia/Tokyo"), T, 1) == [
        dt.datetime(2026, 12, 1, 0, 0)
    ]


def test_spring_forward_a_daily_0230_fires_once_at_0300_on_the_skipped_day():
    # 2026-03-29: Berlin's clocks go from 02:00 to 03:00 (CET -> CEST).
    ticks = next_ticks("30 2 * * *", BERLIN, dt.datetime(2026, 3, 28, 12), 3)
    assert ticks == [
        dt.datetime(2026, 3, 29, 1, 0),  # 03:00 CEST: the skipped 02:30 runs when the clock resumes
        dt.datetime(2026, 3, 30, 0, 30),  # 02:30 CEST
        dt.datetime(2026, 3, 31, 0, 30),
    ]


def test_fall_back_a_daily_0230_fires_once_at_the_first_0230_on_the_repeated_day():
    # 2026-10-25: Berlin's clocks go from 03:00 back to 02:00 (CEST -> CET).
    ticks = next_ticks("30 2 * * *", BERLIN, dt.datetime(2026, 10, 24, 12), 3)
    assert ticks == [
        dt.datetime(2026, 10, 25, 0, 30),  # 02:30 CEST, the first one; not 02:30 CET
        dt.datetime(2026, 10, 26, 1, 30),  # 02:30 CET
        dt.datetime(2026, 10, 27, 1, 30),
    ]
    # Resuming from inside the second 02:00-03:00 (a restart at 02:10 CET) does not
    # fire 02:30 CET: that day's 02:30 was the first one.
    assert next_ticks("30 2 * * *", BERLIN, dt.datetime(2026, 10, 25, 1, 10), 1) == [
        dt.datetime(2026, 10, 26, 1, 30)
    ]


def test_fall_back_a_wall_clock_step_fires_in_both_repeated_hours():
    ticks = next_ticks("*/30 * * * *", BERLIN, dt.datetime(2026, 10, 24, 23, 45), 6)
    assert ticks == [
        dt.datetime(2026, 10, 25, 0, 0),  # 02:00 CEST
        dt.datetime(2026, 10, 25, 0, 30),  # 02:30 CEST
        dt.datetime(2026, 10, 25, 1, 0),  # 02:00 CET
        dt.datetime(2026, 10, 25, 1, 30),  # 02:30 CET
        dt.datetime(2026, 10, 25, 2, 0),  # 03:00 CET
        dt.datetime(2026, 10, 25, 2, 30),
    ]
    # Resuming from inside the repeated hour (a restart) keeps the same ticks.
    assert next_ticks("*/30 * * * *", BERLIN, dt.datetime(2026, 10, 25, 1, 0), 2) == ticks[3:5]


def test_spring_forward_an_hourly_schedule_has_no_tick_in_the_skipped_hour():
    ticks = next_ticks("0 * * * *", BERLIN, dt.datetime(2026, 3, 28, 23, 30), 3)
    # 01:00 CET (00:00 UTC), then 03:00 CEST (01:00 UTC): no 02:00, nothing twice.
    assert ticks == [
        dt.datetime(2026, 3, 29, 0, 0),
        dt.datetime(2026, 3, 29, 1, 0),
        dt.datetime(2026, 3, 29, 2, 0),
    ]


def run_plan(due, now, **kwargs):
    options = dict(
        catch_up="none", overlap="skip", previous_running=False, previous_ended_at=None, grace=60
    )
    options.update(kwargs)
    return plan("* * * * *", UTC, due, now, **options)


def test_an_on_time_tick_fires_and_the_next_is_the_following_minute():
    result = run_plan(T, T + dt.timedelta(seconds=0.3))
    assert (result.fire, result.skips, result.next_fire_at) == (T, [], T + minutes(1))


def test_catch_up_none_records_the_missed_ticks_as_one_skip_and_fires_nothing():
    # Down from before T until T+2.5 min: T and T+1 min are over 60 s late, T+2 min is not...
    result = run_plan(T, T + minutes(2.5), catch_up="none")
    # ...so T+2 min is on time and fires; the two missed ones are one skip.
    assert result.fire == T + minutes(2)
    assert len(result.skips) == 1 and result.skips[0][0] == T
    assert result.skips[0][1].startswith("2 ticks from 2026-11-30T10:00:00Z: missed")
    # Back after every due tick is over the grace (30 s here): nothing fires.
    result = run_plan(T, T + minutes(1.75), catch_up="none", grace=30)
    assert result.fire is None
    assert [tick for tick, _ in result.skips] == [T]
    assert "2 ticks" in result.skips[0][1]
    assert result.next_fire_at == T + minutes(2)


def test_catch_up_latest_fires_the_latest_missed_tick_once():
    result = run_plan(T, T + minutes(1.75), catch_up="latest", grace=30)
    assert result.fire == T + minutes(1)
    assert result.skips == [(T, "missed: the scheduler was not running at that time")]
    assert result.next_fire_at == T + minutes(2)


def test_a_year_long_outage_is_one_skip_counted_up_to_a_bound():
    result = run_plan(T - dt.timedelta(days=365), T + dt.timedelta(seconds=90), catch_up="latest")
    assert result.fire == T + minutes(1)
    assert result.skips[0][1].startswith(f"over {schedules.MAX_COUNTED_TICKS} ticks")


def test_overlap_skip_turns_the_fire_into_a_recorded_skip():
    result = run_plan(T, T, previous_running=True, overlap="skip")
    assert result.fire is None
    assert result.skips == [(T, "the previous run had not ended (overlap skip)")]
    assert result.next_fire_at == T + minutes(1)


def test_overlap_allow_fires_while_the_previous_run_goes_on():
    assert run_plan(T, T, previous_running=True, overlap="allow").fire == T


def test_overlap_queue_waits_then_fires_the_waiting_tick_and_skips_the_ones_after_it():
    waiting = run_plan(T, T + minutes(1.5), previous_running=True, overlap="queue")
    assert waiting.wait and waiting.fire is None and not waiting.skips
    ended = run_plan(T, T + minutes(2.5), overlap="queue", previous_ended_at=T + minutes(2.4))
    assert ended.fire == T  # the tick that waited, late
    assert [tick for tick, _ in ended.skips] == [T + minutes(1)]
    assert "2 ticks" in ended.skips[0][1] and "at most one tick waits" in ended.skips[0][1]
    assert ended.next_fire_at == T + minutes(3)


@pytest.mark.parametrize("name", ["localtime", "posixrules", "zone.tab", "UTC\n", "Europe/Berlin "])
def test_names_that_are_files_of_the_zone_database_but_not_zones_are_refused(name):
    with pytest.raises(ScheduleError):
        parse_timezone(name)


CRON_ALPHABET = "0123456789*/,-LW#?@ \t abcdefhilmnortuwyMONTUEWEDJANFEBSUN５"


@given(text=st.text(alphabet=CRON_ALPHABET, max_size=40))
@settings(max_examples=500, deadline=None)
def test_any_text_is_a_cron_expression_or_a_schedule_error(text):
    try:
        cron = parse_cron(text)
    except ScheduleError as exc:
        assert exc.field == "cron"
        return
    # What parses gives ticks in any zone, from any time, without raising.
    for zone in (UTC, BERLIN):
        ticks = next_ticks(cron, zone, T, 3)
        assert ticks == sorted(ticks) and all(tick > T for tick in ticks)
