"""The app menu (自定义菜单): click events carry an EventKey that maps to one of the core's commands.

`python -m bot.channels.wecom.menu` prints the menu JSON to paste into the admin console (or to POST
to menu/create); `--create` sends it with the app's credentials from the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.core.commands import BY_NAME

# (menu label, EventKey = the core's command name). Top-level buttons ≤ 3, sub-buttons ≤ 5.
MENU: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("上报", (("上报事件", "report"), ("登记投诉", "complain"), ("交接班", "handover"))),
    ("值班", (("签到", "checkin"), ("平安", "ok"), ("值班表", "roster"), ("我的提醒", "reminders"))),
    ("更多", (("待办", "open"), ("我的记录", "status"), ("查规定", "ask"), ("帮助", "help"))),
)


def command_for_key(key: str) -> str | None:
    """"report" → "/report"; an unknown key → None (acknowledged and ignored)."""
    name = key.strip().lower()
    return f"/{name}" if name in BY_NAME else None


def menu_json() -> dict[str, Any]:
    return {"button": [
        {"name": top, "sub_button": [{"type": "click", "name": label, "key": key} for label, key in subs]}
        for top, subs in MENU
    ]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="企业微信应用菜单（click 事件的 key 对应机器人命令）")
    parser.add_argument("--create", action="store_true", help="用设置里的应用凭据直接创建菜单（menu/create）")
    args = parser.parse_args(argv)
    body = menu_json()
    if not args.create:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    from bot.channels.wecom.client import WeComApiError, client_from_settings
    from bot.settings import load_settings

    settings = load_settings()

    async def create() -> None:
        client = client_from_settings(settings)
        try:
            agent = {"agentid": str(settings.wecom_agent_id)}
            await client.call("POST", "menu/create", params=agent, json=body)
        finally:
            await client.close()

    try:
        asyncio.run(create())
    except WeComApiError as err:
        print(f"创建菜单失败：{err.hint()}", file=sys.stderr)
        return 1
    print("菜单已创建。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
