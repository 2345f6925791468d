"""Wiring only: build the core and its services from settings, and start the channels."""

from __future__ import annotations

import sys

from bot.core.router import Core
from bot.settings import Settings
from retrieval.search import Searcher


def build_searcher(settings: Settings) -> Searcher:
    return Searcher.from_seeds(settings.seeds_dir, settings.cache_dir)


def build_core(settings: Settings, searcher: Searcher | None = None) -> Core:
    return Core(
        searcher or build_searcher(settings),
        answer_hits=settings.answer_hits,
        max_question_chars=settings.max_question_chars,
    )


def run(settings: Settings) -> None:
    """Start dutybot. No channel is configured yet, so this is the console chat."""
    from bot.channels.console import run_console

    core = build_core(settings)
    run_console(core, sys.stdin, sys.stdout, interactive=sys.stdin.isatty())
