"""Every command's handler and who may use it; every dialog kind's step function."""

from __future__ import annotations

from bot.core.dialogs import Step
from bot.core.handlers import complaint, duty, general, handover, manage, onboarding, reminders, report
from bot.core.router import Route

ROUTES: dict[str, Route] = {
    "help": Route(general.help_, public=True),
    "start": Route(general.start, public=True),
    "ask": Route(general.ask),
    "whoami": Route(general.whoami),
    "cancel": Route(general.cancel),
    **onboarding.ROUTES,
    **report.ROUTES,
    **complaint.ROUTES,
    **handover.ROUTES,
    **manage.ROUTES,
    **duty.ROUTES,
    **reminders.ROUTES,
}

DIALOGS: dict[str, Step] = {
    **report.DIALOGS,
    **complaint.DIALOGS,
    **handover.DIALOGS,
}
