"""The webhook route on the shared web server: Telegram POSTs each update here.

- The `X-Telegram-Bot-Api-Secret-Token` header must equal TELEGRAM_WEBHOOK_SECRET (constant-time
  compare): missing or wrong → 403 and nothing is looked at.
- Malformed JSON or not an update → 400 (Telegram would only resend the same bytes).
- 200 only once the update is stored in the inbox; a database failure → 500, so Telegram resends it.
  A redelivered update is stored once (its update_id is the inbox key) and answered 200.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, Update

from bot.channels.telegram.receive import Receiver

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Updates are a few kB; anything far larger is not from Telegram.
MAX_BODY = 1_000_000


def webhook_route(path: str, secret: str, bot: Bot, receiver: Callable[[], Receiver | None]) -> Route:
    expected = secret.encode()

    async def endpoint(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            log.warning("Telegram webhook call without the right secret token refused")
            return Response(status_code=403)
        current = receiver()
        if current is None:  # not started yet (or stopping): Telegram will send it again
            return Response(status_code=503)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, bot)
        except Exception:
            log.warning("Telegram webhook: malformed update refused (%s bytes)", len(body))
            return Response(status_code=400)
        try:
            await current.receive(update)
        except Exception:
            log.exception("Telegram update %s could not be stored; Telegram will resend it", update.update_id)
            return Response(status_code=500)
        return Response(status_code=200)

    return Route(path, endpoint, methods=["POST"])
