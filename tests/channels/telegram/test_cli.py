"""`dutybot run` with TELEGRAM_BOT_TOKEN set: a real process polls the fake Bot API, the scheduler
delivers the outbox, SIGTERM stops it cleanly, and its log file never shows the token."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.channels.telegram.support import register, tg_settings
from tests.fakes.telegram_api import FakeTelegram

DUTYBOT = [sys.executable, "-m", "bot"]


def test_dutybot_run_serves_telegram_until_sigterm(cli_env: dict[str, str], tmp_path: Path,
                                                   fake: FakeTelegram) -> None:
    settings = tg_settings(Path(cli_env["DATA_DIR"]), fake)
    register(settings, "张保安", "guard", 1001)
    env = {**cli_env, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url, "LOG_LEVEL": "DEBUG"}
    proc = subprocess.Popen([*DUTYBOT, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[3])
    try:
        fake.wait_for(lambda: bool(fake.calls_to("deleteWebhook")) or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.communicate()
        fake.inject(fake.message(1001, "值班能喝酒吗"))
        fake.wait_for(lambda: bool(fake.messages_to(1001)), timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "dutybot 已启动：telegram" in err and "dutybot 已停止" in err
    assert "《" in fake.messages_to(1001)[0].params["text"]
    log = (Path(cli_env["DATA_DIR"]) / "dutybot.log").read_text(encoding="utf-8")
    assert "sendMessage" in log  # it did log the Bot API calls…
    assert fake.token.split(":", 1)[1] not in log + out + err  # …never with the token


def test_webhook_without_a_secret_refuses_to_start(cli_env: dict[str, str], fake: FakeTelegram) -> None:
    env = {**cli_env, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url,
           "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram/webhook"}
    started = time.monotonic()
    result = subprocess.run([*DUTYBOT, "run"], env=env, capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 2
    assert result.stderr.startswith("无法启动：") and "TELEGRAM_WEBHOOK_SECRET" in result.stderr
    assert fake.calls == [] and time.monotonic() - started < 60
