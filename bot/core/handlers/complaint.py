"""Handlers for the complaint commands (being written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.dialogs import Step
    from bot.core.router import Route

ROUTES: dict[str, Route] = {}
DIALOGS: dict[str, Step] = {}
