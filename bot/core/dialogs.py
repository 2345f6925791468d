"""Guided dialogs (a report written step by step), kept in the database so a restart loses nothing.

A dialog belongs to one sender on one channel. Any line starting with "/" (or a command word) leaves
an unfinished dialog and runs as a command; a dialog idle past the timeout expires.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.core import texts
from bot.core.context import Ctx
from bot.storage.models import Dialog

# What each kind of dialog is called in replies ("已退出未完成的事件上报").
KIND_NAMES: dict[str, str] = {"report": "事件上报", "complaint": "投诉登记", "handover": "交接班记录"}

Step = Callable[[Ctx, Dialog, str], None]


def _steps() -> dict[str, Step]:
    from bot.core.handlers import routes

    return routes.DIALOGS


def current(ctx: Ctx) -> Dialog | None:
    """The sender's open dialog, or None; an expired one is removed and the sender told."""
    dialog = ctx.session.get(Dialog, (ctx.msg.channel, ctx.msg.sender))
    if dialog is None:
        return None
    timeout = timedelta(minutes=ctx.services.settings.dialog_timeout_minutes)
    if ctx.now - dialog.updated_at > timeout:
        ctx.session.delete(dialog)
        ctx.session.flush()
        ctx.reply(texts.DIALOG_EXPIRED.format(what=KIND_NAMES.get(dialog.kind, "内容")))
        return None
    return dialog


def start(ctx: Ctx, kind: str, step: str, data: dict[str, Any] | None = None) -> Dialog:
    existing = ctx.session.get(Dialog, (ctx.msg.channel, ctx.msg.sender))
    if existing is not None:
        ctx.session.delete(existing)
        ctx.session.flush()
    dialog = Dialog(
        channel=ctx.msg.channel, sender=ctx.msg.sender, kind=kind, step=step,
        data=dict(data or {}), updated_at=ctx.now,
    )
    ctx.session.add(dialog)
    ctx.session.flush()
    return dialog


def advance(ctx: Ctx, dialog: Dialog, step: str, **data: Any) -> None:
    dialog.step = step
    dialog.data = {**dialog.data, **data}  # a new dict, so the JSON column sees the change
    dialog.updated_at = ctx.now


def end(ctx: Ctx, dialog: Dialog) -> None:
    ctx.session.delete(dialog)
    ctx.session.flush()


def resume(ctx: Ctx, dialog: Dialog) -> None:
    step = _steps().get(dialog.kind)
    if step is None:  # a kind this version no longer knows: drop it rather than trap the sender
        end(ctx, dialog)
        ctx.reply(texts.DIALOG_EXPIRED.format(what="内容"))
        return
    step(ctx, dialog, ctx.msg.text)


def abandon(ctx: Ctx, dialog: Dialog) -> None:
    end(ctx, dialog)
    ctx.reply(texts.DIALOG_LEFT.format(what=KIND_NAMES.get(dialog.kind, "内容")))
