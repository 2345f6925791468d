"""The channel-neutral core: an inbound message in, the messages to send out."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.core import texts
from bot.core.commands import parse
from bot.core.handlers.ask import QuestionAnswerer, answer_question
from bot.core.messages import Inbound, Outbound

log = logging.getLogger(__name__)


class Core:
    def __init__(self, searcher: QuestionAnswerer, *, answer_hits: int = 3, max_question_chars: int = 500):
        self._searcher = searcher
        self._answer_hits = answer_hits
        self._max_question_chars = max_question_chars
        self._handlers: dict[str, Callable[[Inbound, str], str]] = {
            "help": lambda _msg, _args: texts.HELP,
            "start": lambda _msg, _args: texts.WELCOME,
            "ask": self._ask,
        }

    def handle(self, msg: Inbound) -> list[Outbound]:
        """Answer one message; never raises, so no channel ever shows a traceback to a user."""
        try:
            reply = self._dispatch(msg)
        except Exception:
            log.exception("handling a %s message failed", msg.channel)
            reply = texts.INTERNAL_ERROR
        return [Outbound(channel=msg.channel, to=msg.chat, text=reply)]

    def _dispatch(self, msg: Inbound) -> str:
        parsed = parse(msg.text)
        if parsed.command is None:
            return self._ask(msg, parsed.args)
        handler = self._handlers.get(parsed.command)
        if handler is None:
            return texts.UNKNOWN_COMMAND.format(command=parsed.raw_command[:30])
        return handler(msg, parsed.args)

    def _ask(self, _msg: Inbound, question: str) -> str:
        return answer_question(
            self._searcher, question, k=self._answer_hits, max_chars=self._max_question_chars
        )
