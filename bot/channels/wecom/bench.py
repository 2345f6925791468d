"""How fast is the WeCom callback? `python -m bot.channels.wecom.bench [--callbacks N] [--concurrency C]`

A real dutybot (`bot.app.serving` with the scheduler: web server, inbox worker, outbox) serves the
callback on 127.0.0.1; a fake WeCom API server (tests/fakes/wecom_api.py) receives the replies. C
concurrent clients POST N encrypted, signed text callbacks — questions from many registered members,
so WeCom's 30/min per-member limit does not pace the run — and we measure:

- end to end: callbacks per second from the first POST until every reply reached the fake API
  (signature check, decrypt, XML parse, durable dedupe in the inbox, the core answering the question
  with its BM25 search, the outbox delivering through message/send);
- callback → 200: p50/p95 of each POST's answer time (what WeCom's 5-second rule is about).

Baselines measured in the same run: a bare Starlette endpoint returning 200 on the same server with
the same clients and body, and decrypt-only throughput (signature + AES + XML) in one thread.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import App, build_app, build_searcher, serving
from bot.channels.base import Intake
from bot.channels.wecom import build_channel
from bot.channels.wecom.channel import WeComChannel
from bot.channels.wecom.xml import envelope, message, parse
from bot.core.messages import Inbound, Outbound
from bot.dispatch import Sender
from bot.inbox import Prepare
from bot.settings import PROJECT_ROOT, Settings
from bot.staff import add_person
from bot.storage.models import Person

QUESTIONS = ("晚上几点关大门", "门禁卡丢了怎么办", "值班可以睡觉吗", "交接班要写什么", "发现有人翻墙怎么处理",
             "迟到怎么处罚", "巡逻多久一次", "客户投诉多久要回复")
TOKEN = "benchTokenbenchToken"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "wwbench0000000001"
SECRET = "bench-secret-0123456789"


@dataclass
class Run:
    label: str
    seconds: float
    latencies: list[float]
    done: int

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


class _NoSender:
    async def send(self, out: Outbound, recipient: Person | None) -> None:
        pass


@dataclass
class BareChannel:
    """Only a route: POST /bare answers 200 at once (the web server's own cost)."""

    name: str = "bare"
    sender: Sender = field(default_factory=lambda: _NoSender())
    prepare: Prepare | None = None

    def routes(self, intake: Intake) -> list[BaseRoute]:
        async def bare(request: Request) -> Response:
            await request.body()
            return PlainTextResponse("")

        return [Route("/bare", bare, methods=["POST"])]

    async def start(self, intake: Intake) -> None:
        pass

    async def stop(self) -> None:
        pass


def _callbacks(channel: WeComChannel, users: list[str], n: int) -> list[tuple[dict[str, str], bytes]]:
    crypto = channel.crypto
    built = []
    for i in range(n):
        fields = {"ToUserName": CORP_ID, "FromUserName": users[i % len(users)],
                  "CreateTime": str(1764200000 + i), "MsgType": "text",
                  "Content": QUESTIONS[i % len(QUESTIONS)], "MsgId": str(8_000_000_000 + i), "AgentID": "1000002"}
        encrypt = crypto.encrypt(message(fields).encode())
        nonce = f"n{i}"
        params = {"msg_signature": crypto.sign("1764200000", nonce, encrypt), "timestamp": "1764200000",
                  "nonce": nonce}
        built.append((params, envelope(CORP_ID, encrypt, "1000002").encode()))
    return built


async def _post_all(http: httpx.AsyncClient, path: str, bodies: list[tuple[dict[str, str], bytes]],
                    concurrency: int) -> list[float]:
    queue = list(reversed(bodies))
    latencies: list[float] = []

    async def client() -> None:
        while queue:
            params, body = queue.pop()
            start = time.perf_counter()
            response = await http.post(path, params=params, content=body)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"callback answered {response.status_code}")

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def _decrypt_only(channel: WeComChannel, bodies: list[tuple[dict[str, str], bytes]], seconds: float) -> Run:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        params, body = bodies[done % len(bodies)]
        plain = channel.crypto.decrypt_message(params["msg_signature"], params["timestamp"], params["nonce"],
                                               parse(body)["Encrypt"])
        parse(plain)
        done += 1
    return Run("decrypt only (signature + AES + XML, 1 thread)", time.perf_counter() - start, [], done)


def _load(base: str, path: str, bodies: list[tuple[dict[str, str], bytes]], concurrency: int) -> list[float]:
    """The clients run in a process of their own, so they take neither dutybot's loop nor its GIL."""
    async def go() -> list[float]:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
            return await _post_all(http, path, bodies, concurrency)

    return asyncio.run(go())


def _core_only(app: App, users: list[str], n: int) -> Run:
    """The core alone answering the same questions (no HTTP, no crypto, no delivery)."""
    start = time.perf_counter()
    for i in range(n):
        app.core.handle(Inbound("wecom", users[i % len(users)], users[i % len(users)],
                                QUESTIONS[i % len(QUESTIONS)], message_id=f"core-{i}"))
    return Run("core only (Core.handle answering, 1 thread)", time.perf_counter() - start, [], n)


async def bench(n: int, concurrency: int, members: int, database_url: str | None) -> list[Run]:
    from tests.fakes.wecom_api import FakeWeCom  # the bench drives the same fake API as the tests

    with tempfile.TemporaryDirectory() as tmp, FakeWeCom(corp_id=CORP_ID, secret=SECRET) as fake:
        settings = Settings.explicit(
            seeds_dir=PROJECT_ROOT / "seeds", data_dir=Path(tmp), http_port=0, wecom_corp_id=CORP_ID,
            wecom_agent_id=1000002, wecom_secret=SECRET, wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY,
            wecom_api_base_url=fake.base_url, database_url=database_url)
        channel = build_channel(settings)
        app = build_app(settings, searcher=build_searcher(settings), senders={"wecom": channel.sender})
        users = [f"guard{i:03d}" for i in range(members)]
        with app.services.sessions.begin() as session:
            for i, user in enumerate(users):
                add_person(session, name=f"保安{i:03d}", role="guard", now=datetime.now(UTC), wecom_userid=user)
        bodies = _callbacks(channel, users, n)
        warm = _callbacks(channel, ["warmup"], 20)  # a stranger: exercises the path, not counted
        path = settings.wecom_callback_path
        runs: list[Run] = []
        loop = asyncio.get_running_loop()
        clients = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        async with serving(app, [channel, BareChannel()]) as served:
            assert served.web is not None
            base = f"http://127.0.0.1:{served.web.port}"
            await loop.run_in_executor(clients, _load, base, "/bare", warm, concurrency)
            start = time.perf_counter()
            latencies = await loop.run_in_executor(clients, _load, base, "/bare", bodies, concurrency)
            bare = time.perf_counter() - start
            runs.append(Run("bare Starlette endpoint (200, no work)", bare, latencies, n))

            await loop.run_in_executor(clients, _load, base, path, warm, concurrency)
            while len(fake.sent) < len(warm):
                await asyncio.sleep(0.01)
            before = len(fake.sent)
            start = time.perf_counter()
            load = loop.run_in_executor(clients, _load, base, path, bodies, concurrency)
            while len(fake.sent) < before + n or not load.done():
                if time.perf_counter() - start > 300:
                    raise RuntimeError("replies did not all arrive")
                await asyncio.sleep(0.005)
            total = time.perf_counter() - start
            latencies = await load
            # The clients' own time for the POSTs: sum of latencies / concurrency approximates it.
            posting = sum(latencies) / concurrency
            runs.append(Run("WeCom callback → 200 (verify, decrypt, store in inbox)", posting, latencies, n))
            runs.append(Run("WeCom end to end (… core answers, reply at the fake API)", total, [], n))
        clients.shutdown()
        replies = [p["text"]["content"] for p in fake.sent[before:before + n]]
        runs.append(_core_only(app, users, min(n, 200)))
        runs.append(_decrypt_only(channel, bodies, 1.0))
        app.engine.dispose()
        answered = sum(1 for r in replies if "《" in r)
        print(f"{answered}/{len(replies)} replies cite a rule", file=sys.stderr)
        return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--callbacks", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--members", type=int, default=100, help="distinct senders (≤ 30 messages/min each)")
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL (a fresh schema at URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # refusals of the warm-up stranger etc. are expected
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "wake-up job already running" notes
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.postgres:
        backends.append(("PostgreSQL", args.postgres))
    for backend, url in backends:
        if url is None:
            runs = asyncio.run(bench(args.callbacks, args.concurrency, args.members, None))
        else:
            from bot.bench_records import _pg_schema

            with _pg_schema(url) as schema_url:
                runs = asyncio.run(bench(args.callbacks, args.concurrency, args.members, schema_url))
        _print(runs, f"{args.callbacks} callbacks, {args.concurrency} concurrent clients, "
                     f"{args.members} members, {backend}")
    return 0


def _print(runs: list[Run], title: str) -> None:
    print(title)
    print(f"{'':60} {'per second':>11} {'p50 ms':>8} {'p95 ms':>8}")
    for run in runs:
        p50 = f"{run.pct(0.5):8.1f}" if run.latencies else f"{'':>8}"
        p95 = f"{run.pct(0.95):8.1f}" if run.latencies else f"{'':>8}"
        print(f"{run.label:60} {run.per_second:11.0f} {p50} {p95}")
    print()


if __name__ == "__main__":
    sys.exit(main())
