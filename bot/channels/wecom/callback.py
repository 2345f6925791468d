"""The callback URL (接收消息): GET verifies the URL, POST receives encrypted messages and events.

A POST is answered with an empty 200 as soon as the message is stored in the inbox (WeCom retries
after 5 s without one; the answer is sent later through the API). Whatever fails the checks —
signature, corp id, ciphertext, XML — gets a 4xx and is not stored; a database that cannot store
gets a 503 so WeCom delivers again. Never a 500, never a traceback in a response.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.base import Intake
from bot.channels.wecom import xml
from bot.channels.wecom.convert import convert
from bot.channels.wecom.crypto import CryptoError, SignatureError, WeComCrypto

log = logging.getLogger(__name__)

_PARAMS = ("msg_signature", "timestamp", "nonce")


def _plain(status: int, text: str = "") -> Response:
    return PlainTextResponse(text, status_code=status)


def _query(request: Request, names: tuple[str, ...]) -> list[str] | None:
    values = [request.query_params.get(name) for name in names]
    if any(v is None or len(v) > 4096 for v in values):
        return None
    return [v for v in values if v is not None]


def _refused(err: CryptoError, what: str) -> Response:
    # The reason goes to the log (for the admin who mistyped WECOM_TOKEN), never the details to the caller.
    log.warning("WeCom %s refused: %s (%s)", what, type(err).__name__, err)
    return _plain(403 if isinstance(err, SignatureError) else 400, "bad request")


def callback_routes(path: str, crypto: WeComCrypto, intake: Intake) -> list[BaseRoute]:
    async def verify(request: Request) -> Response:
        params = _query(request, (*_PARAMS, "echostr"))
        if params is None:
            return _plain(400, "missing parameters")
        signature, timestamp, nonce, echostr = params
        # The query was URL-decoded once; a "+" that arrived unencoded became a space (base64 has none).
        echostr = echostr.replace(" ", "+")
        try:
            plain = crypto.verify_url(signature, timestamp, nonce, echostr)
        except CryptoError as err:
            return _refused(err, "URL verification")
        log.info("WeCom callback URL verified")
        return Response(plain.encode("utf-8"), status_code=200, media_type="text/plain")

    async def receive(request: Request) -> Response:
        params = _query(request, _PARAMS)
        if params is None:
            return _plain(400, "missing parameters")
        signature, timestamp, nonce = params
        try:
            body = await _read_body(request)
        except _TooLarge:
            return _plain(413, "too large")
        try:
            encrypt = xml.parse(body).get("Encrypt", "")
            if not encrypt:
                return _plain(400, "no Encrypt")
            fields = xml.parse(crypto.decrypt_message(signature, timestamp, nonce, encrypt))
        except CryptoError as err:
            return _refused(err, "callback")
        except xml.XmlError as err:
            log.warning("WeCom callback refused: malformed XML (%s)", err)
            return _plain(400, "bad request")
        converted = convert(fields)
        if converted is None:
            log.debug("WeCom %s/%s acknowledged, not handled", fields.get("MsgType"), fields.get("Event"))
            return _plain(200)
        try:
            stored = await intake.accept(converted.inbound, converted.key)
        except Exception:
            log.exception("WeCom callback could not be stored; answering 503 so WeCom retries")
            return _plain(503, "try again")
        if not stored:
            log.info("WeCom redelivery %s dropped", converted.key)
        return _plain(200)

    async def endpoint(request: Request) -> Response:
        try:
            return await (verify(request) if request.method == "GET" else receive(request))
        except Exception:  # a bug here must still not answer 500 with a traceback
            log.exception("WeCom callback failed")
            return _plain(503, "try again")

    return [Route(path, endpoint, methods=["GET", "POST"])]


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > xml.MAX_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
