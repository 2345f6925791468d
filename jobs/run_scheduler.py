"""`python -m jobs.run_scheduler`: a bot process without a chat — the real App, its elected scheduler
(jobs.scheduler.running) and the outbox printed to stdout as the console would show it.

For the two-process test (it controls how long the process lives and how fast the lease moves) and
for watching the scheduler work without a chat. It delivers to the console only, so do not run it
beside processes that run other channels: every process that dispatches the outbox must run the
same channels. Stops after `--seconds`, on SIGTERM or on Ctrl-C, releasing the lease. Prints one
line "ready <holder>" once the first lease check has run (the holder is host:pid:random; the `lease`
table shows who leads).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from jobs import leader

if TYPE_CHECKING:
    from bot.app import App


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.run_scheduler",
        description="A bot process without a chat: the real App and its elected scheduler; "
                    "the outbox goes to stdout.")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: DATABASE_URL / the SQLite file)")
    parser.add_argument("--seconds", type=float,
                        help="stop after this many seconds (default: run until stopped)")
    parser.add_argument("--lease-ttl", type=float, default=leader.TTL.total_seconds(),
                        help="lease lifetime, s")
    parser.add_argument("--lease-renew", type=float, default=leader.RENEW_EVERY.total_seconds(),
                        help="lease check interval, s")
    args = parser.parse_args(argv)

    from bot.app import build_app
    from bot.channels.console import ConsoleSender
    from bot.settings import load_settings

    settings = load_settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    app = build_app(settings, senders={"console": ConsoleSender(sys.stdout, settings.data_dir / "exports")})
    try:
        asyncio.run(_serve(app, args.seconds, timedelta(seconds=args.lease_ttl),
                           timedelta(seconds=args.lease_renew)))
    finally:
        app.engine.dispose()
    return 0


async def _serve(app: App, seconds: float | None, ttl: timedelta, every: timedelta) -> None:
    from jobs.scheduler import running

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    async with running(app, ttl=ttl, every=every) as elector:
        print(f"ready {elector.holder}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), seconds)


if __name__ == "__main__":
    sys.exit(main())
