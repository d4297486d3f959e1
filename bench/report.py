"""The results of one bench run as a table, as JSON and as BENCHMARKS.md."""

import json
from pathlib import Path


def _num(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _ratio(value, ceiling) -> float | None:
    if value is None or not ceiling:
        return None
    return value / ceiling


def _pct(ratio) -> str:
    # One decimal: 49.6% of a 50% goal must not read as 50%.
    return "-" if ratio is None else f"{100 * ratio:.1f}%"


def _met(condition) -> str:
    if condition is None:
        return "-"
    return "yes" if condition else "NO"


def _get(results: dict, *keys):
    value = results
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def rows(results: dict) -> list[dict]:
    """One row per ceiling and scenario: what was measured, against what, the goal."""
    ceilings = results.get("ceilings", {})
    scenarios = results.get("scenarios", {})
    launch_tmpfs = _get(ceilings, "launch", "tmpfs", "per_second")
    launch_jobs = _get(ceilings, "launch", "jobs_dir", "per_second")
    isolated = _get(ceilings, "launch", "isolated", "per_second")
    isolated_p50 = _get(ceilings, "launch", "isolated", "one_at_a_time", "p50_ms")
    isolated_cpu = _get(ceilings, "launch", "isolated", "cpu_ms_per_launch")
    http = _get(ceilings, "http", "per_second")
    webhook = _get(ceilings, "webhook", "per_second")
    table = [
        {
            "id": "ceiling",
            "what": "bare launch of `sh -c true`, files in /dev/shm",
            "result": f"{_num(launch_tmpfs)} launches/s",
        },
        {
            "id": "ceiling",
            "what": "bare launch of `sh -c true`, files in the jobs dir",
            "result": f"{_num(launch_jobs)} launches/s",
        },
        {
            "id": "floor",
            "what": "isolated launch: the executor's job start (launcher, init), no DB/HTTP",
            "result": f"{_num(isolated)} launches/s; one at a time p50 {_ms(isolated_p50)}; "
            f"CPU {_ms(isolated_cpu)} per launch",
            "ratio": f"{_pct(_ratio(isolated, launch_jobs))} of jobs-dir launch",
        },
        {
            "id": "ceiling",
            "what": "HTTP: minimal Tornado POST /api/jobs behind the same NGINX, 64 conns",
            "result": f"{_num(http)} req/s, p99 {_ms(_get(ceilings, 'http', 'p99_ms'))}",
        },
        {
            "id": "peer",
            "what": "webhook: `sh -c true` per request, 16 clients",
            "result": f"{_num(webhook)} jobs/s",
        },
    ]

    s1 = scenarios.get("1", {})
    r1 = s1.get("ratio")
    rounds = ", ".join(_pct(r["ratio"]) for r in s1.get("rounds", []))
    table.append(
        {
            "id": "1",
            "what": "submit: POST /api/jobs (READY), 64 conns through NGINX",
            "result": f"{_num(s1.get('per_second'))} req/s, p99 {_ms(s1.get('p99_ms'))} "
            f"(medians of {len(s1.get('rounds', []))} rounds)",
            "ratio": f"{_pct(r1)} of HTTP ceiling (median; each round against a ceiling "
            f"run just before it: {rounds or '-'})",
            "goal": ">= 50% of HTTP ceiling",
            "met": _met(None if r1 is None else r1 >= 0.5),
        }
    )

    s2 = scenarios.get("2", {})
    r2 = _ratio(s2.get("per_second"), launch_jobs)
    extra = [
        f"{_pct(_ratio(s2.get('per_second'), launch_tmpfs))} of tmpfs launch",
        f"{_pct(_ratio(s2.get('per_second'), isolated))} of isolated launch",
        f"{_num(_ratio(s2.get('per_second'), webhook), 2)}x webhook",
    ]
    table.append(
        {
            "id": "2",
            "what": f"burst: {_num(s2.get('jobs'))} `true` jobs, execute, 16 clients, all end",
            "result": f"{_num(s2.get('per_second'))} jobs/s"
            + ("" if s2.get("all_complete", True) else f" (ended: {s2.get('ended')})"),
            "ratio": f"{_pct(r2)} of jobs-dir launch; " + "; ".join(extra),
            "goal": ">= 40% of bare launch",
            "met": _met(None if r2 is None else r2 >= 0.4 and s2.get("all_complete")),
        }
    )

    s3 = scenarios.get("3", {})
    table.append(
        {
            "id": "3",
            "what": f"round trip x{_num(s3.get('count'))}: submit, wait COMPLETE, read stdout",
            "result": f"p50 {_ms(s3.get('p50_ms'))}, p99 {_ms(s3.get('p99_ms'))}",
            "ratio": f"{_num(_ratio(s3.get('p50_ms'), isolated_p50), 1)}x isolated launch p50",
            "goal": "p50 <= 10 ms",
            "met": _met(None if s3.get("p50_ms") is None else s3["p50_ms"] <= 10),
        }
    )

    s4 = scenarios.get("4", {})
    queries = s4.get("queries", {})
    parts = []
    for name, figures in queries.items():
        if "/api/jobs" not in name:
            continue
        label = name.replace("/api/jobs?limit=100", "list").replace("&status=COMPLETE", "+status")
        parts.append(
            f"{label} p99 {_ms(figures.get('p99_ms'))}"
            if figures.get("supported")
            else f"{label}: not supported yet"
        )
    table.append(
        {
            "id": "4",
            "what": f"history: GET /api/jobs?limit=100 (+status), "
            f"{_num(_get(s4, 'fill', 'jobs'))} jobs in the table",
            "result": "; ".join(parts) or "-",
            "goal": "p99 < 20 ms",
            "met": _met(None if s4.get("p99_ms") is None else s4["p99_ms"] < 20),
        }
    )

    s5 = scenarios.get("5", {})
    p99_5 = _get(s5, "api_while_running", "p99_ms")
    table.append(
        {
            "id": "5",
            "what": f"many at once: {_num(s5.get('jobs'))} x `sleep {s5.get('sleep', '?')}`",
            "result": f"peak {_num(s5.get('peak_running'))} running, "
            f"{'all COMPLETE' if s5.get('all_complete') else 'ended: ' + str(s5.get('ended'))} "
            f"in {_num(s5.get('seconds'), 1)} s; API p99 {_ms(p99_5)} while they run "
            f"({_ms(_get(s5, 'api_by_phase', 'submitting', 'p99_ms'))} during their "
            f"submission from 16 clients, {_num(s5.get('submitted_after'), 1)} s)",
            "goal": "all COMPLETE, API p99 < 50 ms while they run",
            "met": _met(None if not s5 else bool(s5.get("all_complete")) and (p99_5 or 1e9) < 50),
        }
    )

    idle = _get(scenarios, "6", "idle", "max_mb")
    under_burst = _get(scenarios, "2", "rss", "max_peak_mb")
    under_many = _get(scenarios, "5", "rss", "max_peak_mb")
    growth_2gb = _get(scenarios, "6", "big_output", "rss", "max_growth_mb")
    peaks = [x for x in (idle, under_burst, under_many) if x is not None]
    table.append(
        {
            "id": "6",
            "what": "memory: largest app worker or executor RSS",
            "result": f"idle {_num(idle)} MB, burst {_num(under_burst)} MB, "
            f"1,000 running {_num(under_many)} MB; 2 GB job +{_num(growth_2gb, 1)} MB",
            "goal": "< 120 MB; 2 GB job adds < 50 MB",
            "met": _met(
                None if not peaks or growth_2gb is None else max(peaks) < 120 and growth_2gb < 50
            ),
        }
    )
    cancel = _get(results, "extra", "cancel")
    if cancel:
        table.append(
            {
                "id": "extra",
                "what": "cancel a running job: call to CANCELLED, processes gone",
                "result": f"p50 {_ms(cancel.get('p50_ms'))}, max {_ms(cancel.get('max_ms'))}",
            }
        )
    depth = _get(results, "extra", "depth")
    if depth:
        claims = depth["claims"]
        deepest = claims[max(claims, key=int)]
        table.append(
            {
                "id": "depth",
                "what": "claim statement with N jobs of 100 users waiting",
                "result": "; ".join(
                    f"{int(n):,}: p50 {_ms(c['p50_ms'])} p99 {_ms(c['p99_ms'])}"
                    for n, c in claims.items()
                ),
                "ratio": f"{_num(deepest['p50_ms'] / max(claims['0']['p50_ms'], 1e-9), 1)}x "
                "the empty queue's p50",
                "goal": "< 5 ms at 1,000,000",
                "met": _met(deepest["p50_ms"] < 5 if int(max(claims, key=int)) >= 10**6 else None),
            }
        )
        drain = depth["drain"]
        table.append(
            {
                "id": "depth",
                "what": f"drain {drain['jobs']:,} true jobs, in front of "
                f"{drain['behind_waiting']:,} waiting low-priority ones",
                "result": f"{_num(drain['behind_per_second'])} jobs/s "
                f"(nothing waiting: {_num(drain['empty_per_second'])})",
                "ratio": f"{_pct(drain['ratio'])} of the rate with nothing waiting",
            }
        )
    hosts = _get(results, "extra", "hosts")
    if hosts:
        table.append(
            {
                "id": "hosts",
                "what": f"burst of {hosts['jobs']:,} true jobs on two local executors "
                "(two host names, one machine) against one",
                "result": f"{_num(hosts['two_hosts_per_second'])} jobs/s against "
                f"{_num(hosts['one_host_per_second'])}; jobs per host "
                + ", ".join(f"{h}: {n}" for h, n in sorted(hosts["by_host"].items())),
                "ratio": f"{hosts['ratio']:.2f}x one executor",
            }
        )
    slurm = _get(results, "extra", "slurm")
    if slurm:
        direct, service = slurm["direct"], slurm["service"]
        table.append(
            {
                "id": "slurm",
                "what": f"{slurm['jobs']} true jobs through the Slurm queue, against the same "
                "jobs sbatch'ed one by one and watched with squeue (medians of "
                f"{slurm.get('rounds', 1)} alternating rounds: "
                + ", ".join(_num(x) for x in slurm.get("service_seconds", []))
                + " s against "
                + ", ".join(_num(x) for x in slurm.get("direct_seconds", []))
                + " s)",
                "result": f"{_num(service['seconds'])} s ({_num(service['per_second'])} jobs/s, "
                f"submitted at {_num(service['submitted_per_second'])}/s) against "
                f"{_num(direct['seconds'])} s ({_num(direct['per_second'])} jobs/s, "
                f"sbatch {_num(direct['submitted_per_second'])}/s)",
                "ratio": f"{slurm['overhead']:+.0%} end to end",
                "goal": "< +20%",
                "met": _met(slurm["overhead"] < 0.20),
            }
        )
        table.append(
            {
                "id": "slurm",
                "what": "the Slurm queue's burst against the local queue's "
                f"({slurm['local_jobs']:,} true jobs)",
                "result": f"{_num(service['per_second'])} jobs/s against "
                f"{_num(slurm['local_burst']['per_second'])}",
                "ratio": f"{slurm['slurm_vs_local']:.2f}x the local queue",
            }
        )
    timed = _get(results, "extra", "schedules")
    if timed:
        fire, five = timed["fire_delay"], timed.get("scenario_5") or {}
        api = five.get("api_while_running") or {}
        table.append(
            {
                "id": "schedules",
                "what": f"{timed['schedules']:,} schedules firing every minute for "
                f"{timed['minutes']} minutes, scenario 5 run meanwhile",
                "result": f"fire delay after the tick p50 {_ms(fire['p50_ms'])}, p99 "
                f"{_ms(fire['p99_ms'])}, max {_ms(fire['max_ms'])}; "
                f"{timed['fired']:,} of {timed['ticks_expected']:,} ticks fired, "
                f"{timed['missed']} missed, {timed['fired_twice']} twice; scenario 5's API "
                f"p99 {_ms(api.get('p99_ms'))} while its jobs ran",
                "goal": "p99 < 1 s, none missed or twice, scenario 5's p99 < 50 ms",
                "met": _met(
                    fire["p99_ms"] is not None
                    and fire["p99_ms"] < 1000
                    and timed["missed"] == 0
                    and timed["fired_twice"] == 0
                    and (api.get("p99_ms") or 1e9) < 50
                ),
            }
        )
    flows = _get(results, "extra", "workflows")
    if flows:
        chain, created = flows["chain"], flows["array_create"]["seconds_to_accept"]
        rate, others = flows["array_rate"], flows["others"]
        table.append(
            {
                "id": "workflows",
                "what": f"a chain of {chain['jobs']} `true` jobs (each afterok on the one "
                "before), submitted at once, to its end; against a client running them one "
                "after another with `?wait`",
                "result": f"{chain['chain_seconds']:.2f} s against {chain['client_seconds']:.2f} s "
                f"(the chain's submit alone {chain['chain_submit_seconds']:.2f} s); a job's end "
                f"to the next one's start p50 {chain['chain_gap_ms']:.1f} ms against "
                f"{chain['client_gap_ms']:.1f} ms",
                "ratio": f"the client takes {chain['client_over_chain']:.2f}x the chain",
                "goal": "the chain wins (> 1x)",
                "met": _met(chain["client_over_chain"] > 1),
            }
        )
        table.append(
            {
                "id": "workflows",
                "what": "one POST of an array of 1,000 / 10,000 / 100,000 tasks, executed",
                "result": " / ".join(f"{seconds * 1000:.0f} ms" for seconds in created.values()),
                "goal": "100,000 in < 2 s",
                "met": _met(created.get("100000", 1e9) < 2),
            }
        )
        table.append(
            {
                "id": "workflows",
                "what": f"an array of {rate['tasks']:,} `true` tasks, submit to end; "
                "another user's jobs, submit to start, while 100,000 tasks run (1,100 at "
                "once; then 64 at once, the shipped per-user limit)",
                "result": f"{_num(rate['array_per_second'])} tasks/s against the burst's "
                f"{_num(rate['burst_per_second'])} jobs/s; another user's wait to start p50 "
                f"{_ms(others['alone']['p50_ms'])} alone, "
                f"{_ms(others['during_array']['p50_ms'])} during the array (max "
                f"{_ms(others['during_array']['max_ms'])}), "
                + (
                    f"{_ms(others['during_capped_array']['p50_ms'])} during the capped one "
                    f"(max {_ms(others['during_capped_array']['max_ms'])})"
                    if "during_capped_array" in others
                    else ""
                ),
                "ratio": f"{rate['array_over_burst']:.2f}x the burst",
            }
        )
    ui = _get(results, "extra", "ui")
    if ui:
        fill = ui["fill"]
        for name, page in ui["pages"].items():
            server = page["server_p95_ms"]
            table.append(
                {
                    "id": "ui",
                    "what": f"{name}, {fill['jobs']:,} ended jobs in the table",
                    "result": f"server p50 {_ms(page['server']['p50_ms'])}, p95 {_ms(server)}; "
                    f"client p50 {_ms(page['client']['p50_ms'])}, "
                    f"p95 {_ms(page['client_p95_ms'])}",
                    "goal": "pages < 100 ms on the server" if name.startswith("/ui/") else "",
                    "met": _met(server is not None and server < 100)
                    if name.startswith("/ui/")
                    else "",
                }
            )
        passes = ui["passes"]
        table.append(
            {
                "id": "ui",
                "what": "the stats service's pass (rollups) at that size: nothing new / "
                "1,000 / 10,000 new ends; the full recount (backfill)",
                "result": f"p50 {_ms(passes['idle_pass']['p50_ms'])} / "
                f"{_ms(passes['pass_1000_ends']['ms'])} / {_ms(passes['pass_10000_ends']['ms'])}; "
                f"recount {fill['rebuild_seconds']:.1f} s ({fill['rollup_rows']:,} rollup rows)",
            }
        )
    for row in table:
        for key in ("ratio", "goal", "met"):
            row.setdefault(key, "")
    return table


COLUMNS = [("id", "#"), ("what", "scenario"), ("result", "result"), ("ratio", "vs ceiling")]
COLUMNS += [("goal", "goal"), ("met", "met")]


def text_table(table: list[dict]) -> str:
    widths = {key: max(len(title), *(len(str(r[key])) for r in table)) for key, title in COLUMNS}
    line = "  ".join(title.ljust(widths[key]) for key, title in COLUMNS)
    out = [line, "  ".join("-" * widths[key] for key, _ in COLUMNS)]
    for row in table:
        out.append("  ".join(str(row[key]).ljust(widths[key]) for key, _ in COLUMNS))
    return "\n".join(out)


def markdown_table(table: list[dict]) -> str:
    out = ["| " + " | ".join(title for _, title in COLUMNS) + " |"]
    out.append("|" + "---|" * len(COLUMNS))
    for row in table:
        out.append(
            "| " + " | ".join(str(row[key]).replace("|", "\\|") for key, _ in COLUMNS) + " |"
        )
    return "\n".join(out)


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")


def _machine_lines(machine: dict) -> list[str]:
    names = [
        ("cpus", "CPUs"),
        ("cpu_model", "CPU"),
        ("memory_gb", "memory (GB)"),
        ("os", "OS"),
        ("kernel", "kernel"),
        ("python", "Python"),
        ("tornado", "Tornado"),
        ("postgres", "PostgreSQL"),
        ("nginx", "NGINX"),
        ("wrk", "wrk"),
        ("webhook", "webhook"),
        ("app_workers", "app workers"),
        ("running_as_root", "as root (jobs as their users' accounts, PID namespaces, cgroups)"),
        ("commit", "commit"),
    ]
    return [f"| {title} | {machine.get(key, '-')} |" for key, title in names]


def markdown(results: dict) -> str:
    """BENCHMARKS.md: the table, the machine, the commands, the details."""
    machine = results.get("machine", {})
    load = results.get("load_average", {})
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` on {machine.get('date', '?')}; do not edit by hand "
        "(the numbers are in `bench/results/latest.json`). Every ceiling is measured in the same "
        "run as the scenarios, on the same machine, so the ratios hold even when the machine "
        "is busy with other work; the absolute numbers do not.",
        "",
        markdown_table(results.get("rows", [])),
        "",
        f"Load average (1, 5, 15 min) at the start: {load.get('start')}, at the end: "
        f"{load.get('end')}. The whole run took {results.get('seconds', '?')} s.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *_machine_lines(machine),
        "",
        "## How it ran",
        "",
        "```shell",
        *results.get("commands", []),
        "```",
        "",
        "All scenarios run on a stack of their own (`bench/config.bench.yaml`: run/bench, "
        "log/bench, port 5070, database shell_service_bench) with the capacity scenario 5 "
        "needs: " + ", ".join(f"`{k}: {v}`" for k, v in results.get("config", {}).items()) + ". "
        "It is made fresh at every run and stopped at the end.",
        "",
        "- Ceilings: `bench/launch_ceiling.py` (asyncio `create_subprocess_exec`, new session, "
        "stdout and stderr to files in a fresh directory per launch, 16 in flight); "
        "`bench/http_ceiling/` (a handler that parses the body and answers the envelope, "
        "one process per app worker, behind NGINX rendered from the stack's own template); "
        "`bench/peer_webhook.py` (adnanh/webhook, a hook running `sh -c true` and answering "
        "with its output).",
        "- Floor: `bench/isolated_launch.py` starts `true` the way the executor starts a job, "
        "with its code (the launcher makes the directory and script and cgroups and starts "
        "the C job init in a PID namespace, which makes a mount namespace and output "
        "pipes, forks the job as "
        "`nobody` with rlimits; pidfd wait, reading the end record and output), 16 in flight, "
        "then one at a time; no database and no HTTP. What the isolation alone costs.",
        "- Scenario 1 and the HTTP ceiling: wrk, 64 connections, the same body "
        '(`{"code": "true"}`) and token header. Scenario 1 runs in 5 rounds of half the '
        "ceiling's time, each right after a run of the ceiling; its ratio is the median of "
        "the rounds' ratios (the ceiling alone moves by a third between runs minutes apart).",
        "- Scenarios 2 and 5 submit from 16 keep-alive clients (`bench/client.py`) and poll "
        "`GET /api/sysinfo` until no job is queued or running (exact counts there), then "
        "count the outcomes with the job list; the webhook peer gets the same clients.",
        "- Scenario 5 times `GET /api/jobs?limit=10` and `GET /api/sysinfo` from 4 more "
        "clients, each pausing 0.1 s between requests, from the first submission to the "
        "last job's end. The goal is judged on the requests sent after the last submission "
        "was answered, while the 1,000 jobs start and run; during the submission itself the "
        "16 clients post as fast as they can (scenario 1's kind of load), and that p99 is "
        "shown beside it.",
        "- Scenario 3 waits for each job with `GET /api/jobs/<id>?wait=30`, which answers "
        "when the job ends.",
        "- Scenario 4 fills the table with `bench/fill_jobs.py` (INSERT ... SELECT "
        "generate_series, ended jobs for 5 users, then VACUUM ANALYZE), then times "
        "sequential requests as the admin (everyone's jobs) and as one of those users.",
        "- Scenario 6 samples /proc/<pid>/status (VmRSS) of every app worker and the executor.",
        "- Depth (`bench/claim_depth.py`): with the bench stack's executor stopped, QUEUED "
        "jobs of 100 users are written straight into the table (0, then 100,000, then "
        "1,000,000) and the claim statement is run as the executor runs it (prepared, the "
        "stack's limits and `jobs.claim_batch`, generic plan), 200 times at each depth, each "
        "in a transaction rolled back. The drain: 10,000 `true` jobs of one user (priority 0) "
        "with nothing else waiting, then again with 1,000,000 of that user's own jobs at "
        "priority -100 waiting behind them.",
        "- Hosts (`bench/second_host.py`): the burst of scenario 2 on the stack's executor "
        "alone, then with a second executor (`services/executor` with another `hosts.name` "
        "and jobs directory, the same slots) on this same machine: two hosts share its two "
        "CPUs, so the ratio shows the claim spreading work, not more capacity.",
        "- Slurm (`bench/slurm_queue.py`): the bench stack's own single-node test cluster "
        "(`slurm.test_cluster`, 8 jobs per CPU) and a queue `slurm` polled every "
        "`poll_interval` seconds: 200 `true` jobs with `sbatch --wrap=true` one after "
        "another, watched with `squeue` at the same interval, then the same through the "
        "API (16 clients); three such pairs, alternating, and the medians; then the "
        "local queue's burst.",
        "- Schedules (`bench/schedules.py`): 1,000 schedules of a `true` definition, "
        "`* * * * *`, overlap `allow`, made through the API; for ten whole minutes each "
        "fire's delay is its `schedule_fires` row's time less its tick, and every "
        "(schedule, tick) must have exactly one fire and one job; scenario 5 runs inside "
        "the window (from its second minute).",
        "- Workflows (`bench/workflows.py`): a chain of 100 `true` jobs, each `afterok` on "
        "the one before, all submitted by one client, timed to the last job's end, against "
        "one client submitting the same 100 one by one and waiting for each (`?wait=30`), "
        "three rounds of each, interleaved, the medians; one POST of an executed array of "
        "1,000, 10,000 and 100,000 tasks, timed to its answer, cancelled after; an array of "
        "scenario 2's size against scenario 2's burst in the same step; another user's "
        "40 jobs' wait from submit to start, alone and while an array of 100,000 `true` tasks "
        "runs, in the `default` queue (1,100 of the array's tasks at once) and in `capped` "
        "(64 at once per user, as `jobs.max_running_per_user` ships).",
        "- Dashboard (`bench/ui_pages.py`, `--only ui`): 1,000,000 ended jobs of 20 users "
        "over 30 days written with one `generate_series` insert and the stats' rollups "
        "counted again from them; each page then 200 times in a row through NGINX with a "
        "session cookie (`GET /api/stats` with a token): the client's time and the "
        "server's (NGINX's `$request_time`, from its access log), p50 and p95; the stats "
        "service's pass with 0, 1,000 and 10,000 new ends.",
        "- Before each step the bench calls sync(2): no step pays for the disk writeback "
        "of the one before it.",
        "",
        "## Details",
        "",
        "```json",
        json.dumps(
            {key: results.get(key) for key in ("ceilings", "scenarios", "extra")},
            indent=2,
            default=str,
        ),
        "```",
    ]
    if results.get("errors"):
        lines += ["", "## Errors", "", "```", json.dumps(results["errors"], indent=2), "```"]
    if results.get("profiles"):
        lines += ["", "## Profiles (py-spy, all app workers and the executor, % of samples)", ""]
        for name, summary in results["profiles"].items():
            lines += [
                f"### {name} ({summary.get('mode')}: {summary.get('samples')} samples, "
                f"{summary.get('seconds')} s)",
                "",
                "| including callees | step |",
                "|---|---|",
                *(f"| {pct}% | {step} |" for step, pct in summary.get("steps", [])),
                "",
                "| self | function |",
                "|---|---|",
                *(f"| {pct}% | `{fn}` |" for fn, pct in summary.get("self", [])[:12]),
                "",
            ]
    return "\n".join(lines) + "\n"
