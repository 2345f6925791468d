"""Secrets never reach a log line, and a wrong setting is reported by name without echoing values."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from bot.logsafe import RedactingFormatter, add_secrets, redact
from bot.settings import Settings


@pytest.mark.parametrize(
    "line",
    [
        "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
        "GET https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww1&corpsecret=Zm9vYmFyYmF6cXV4",
        "POST /cgi-bin/message/send?access_token=accesstoken123456 failed",
        "POST /cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
    ],
)
def test_secrets_in_urls_are_hidden(line: str) -> None:
    hidden = redact(line)
    assert "***" in hidden
    for secret in ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "Zm9vYmFyYmF6cXV4", "accesstoken123456",
                   "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"):
        assert secret not in hidden


def test_configured_secrets_are_hidden_anywhere_also_in_tracebacks() -> None:
    add_secrets(["my-very-secret-value"])
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "connect with %s", ("my-very-secret-value",), None)
    try:
        raise RuntimeError("boom my-very-secret-value")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    text = RedactingFormatter("%(message)s").format(record)
    assert "my-very-secret-value" not in text and "boom ***" in text


def test_settings_list_every_secret_for_redaction() -> None:
    settings = Settings.explicit(telegram_bot_token="123:tok", wecom_secret="s3cr3t-value",
                                 wecom_robot_webhooks='{"经理群": "robot-key-1"}')
    assert {"123:tok", "s3cr3t-value", "robot-key-1"} <= set(settings.secret_values())
    assert "s3cr3t-value" not in repr(settings)


def test_blank_settings_mean_unset() -> None:
    settings = Settings.explicit(telegram_bot_token="", wecom_corp_id=" ", wecom_agent_id="", database_url="")
    assert not settings.telegram_enabled and not settings.wecom_enabled
    assert settings.db_url.startswith("sqlite:///")


def test_a_wrong_setting_is_named_in_chinese_without_its_value(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "WECOM_ROBOT_WEBHOOKS": '["robot-key-should-not-show"]', "HTTP_PORT": "eighty"}
    done = subprocess.run([sys.executable, "-m", "bot", "corpus", "stats"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "配置有误" in done.stderr and "HTTP_PORT" in done.stderr and "WECOM_ROBOT_WEBHOOKS" in done.stderr
    assert "robot-key-should-not-show" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
