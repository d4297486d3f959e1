"""The webhook deliverer service: one per stack (several may share a database:
each event is delivered once all the same). It turns job events into signed
POSTs to users' webhooks (``shell_service/webhooks/deliverer.py``).

    python -m services.webhooks.webhooks --run-dir RUN_DIR
"""

import argparse
import asyncio
import logging
from pathlib import Path

from baselayer.app import logs
from baselayer.app.config import load_config
from baselayer.app.database import database_url, make_engine
from baselayer.app.migrated import wait_for_migrated_database
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import PlainSQL
from shell_service import config_check, queue
from shell_service.webhooks.deliverer import Deliverer, run_forever

log = logging.getLogger("shell_service.webhooks")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--run-dir", type=Path, required=True, help="the stack's run directory (from config)"
    )
    args = parser.parse_args(argv)
    # One line per record: errors quote receivers' answers and users' URLs.
    logs.configure("webhooks")
    cfg = load_config()
    if args.run_dir.resolve() != cfg.path("app.run_dir").resolve():
        raise SystemExit(f"--run-dir {args.run_dir} is not this config's {cfg['app.run_dir']}")
    try:
        config_check.check(cfg)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    engine = make_engine(cfg)
    wait_for_migrated_database(cfg, engine)
    engine.dispose()
    deliverer = Deliverer(cfg, PlainSQL(database_url(cfg), f"{cfg['app.name']}_webhooks"))

    async def run():
        wake = asyncio.Event()
        listener = Listener(database_url(cfg))
        for channel in (queue.ENDED_CHANNEL, queue.WEBHOOK_CHANNEL):
            listener.subscribe(channel, lambda payloads: wake.set())
        try:
            listener.start()
        except Exception as exc:  # the poll delivers all the same, only later
            log.warning("No LISTEN (%s): polling only", exc)
        log.info(
            "Webhook deliverer: %d at once, %g s per attempt, allowed networks %s",
            deliverer.concurrency,
            deliverer.timeout,
            [str(net) for net in deliverer.allow] or "none",
        )
        await run_forever(deliverer, wake, float(cfg["webhooks.poll_interval"]))

    try:
        asyncio.run(run())
    finally:
        deliverer.close()


if __name__ == "__main__":
    main()
