"""Questions no rule answered are kept for the admin; answered ones and non-questions are not."""

from __future__ import annotations

import argparse
import io

from bot.app import App
from bot.storage.models import Account, Person, UnansweredQuestion
from bot.unanswered import cli
from tests.support import say


def test_unanswered_questions_are_kept_and_listed(app: App) -> None:
    with app.services.sessions.begin() as session:
        session.add(Account(person=Person(name="王保安", role="guard"), channel="test", external_id="g1",
                            chat_id="g1"))
    for text in ("公司年假有几天", "公司年假有几天", "值班能喝酒吗", "😀😀", "", "食堂几点开饭"):
        say(app, "g1", text)
    with app.services.sessions() as session:
        kept = sorted(q.text for q in session.query(UnansweredQuestion))
    assert kept == ["公司年假有几天", "公司年假有几天", "食堂几点开饭"]
    out = io.StringIO()
    assert cli(argparse.Namespace(days=30, limit=50), app.settings, out=out, now=app.services.clock()) == 0
    lines = out.getvalue().splitlines()
    assert "   2 次" in lines[1] and "公司年假有几天" in lines[1]
    assert "食堂几点开饭" in lines[2]
