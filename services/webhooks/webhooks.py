"""The webhook deliverer service: one per stack (several may share a database:
each event is delivered once all the same). It turns job events into signed
POSTs to users' webhooks (``shell_service/webhooks/deliverer.py``).

    python -m services.webhooks.webhooks --run-dir RUN_DIR
"""

import asyncio
import logging

from baselayer.app.database import database_url
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.program import migrated_engine, start_program
from shell_service.webhooks.deliverer import Deliverer, run_forever

log = logging.getLogger("shell_service.webhooks")


def main(argv=None) -> None:
    cfg = start_program("webhooks", __doc__, argv)
    migrated_engine(cfg).dispose()
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
