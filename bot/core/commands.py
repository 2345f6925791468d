"""The command table: every command's slash form and the Chinese words that also call it.

Guards on phones at night do not type Latin commands, so each command answers to Chinese words
without a slash too. This is the one place those words live.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    words: tuple[str, ...] = ()
    summary: str = ""


COMMANDS: tuple[Command, ...] = (
    Command("help", ("帮助", "说明", "菜单"), "查看我能做什么"),
    Command("start", ("开始",), "开始使用 / 用邀请码注册"),
    Command("ask", ("问", "查规定", "提问"), "查规章制度"),
    Command("report", ("上报", "报事", "报告事件"), "上报事件"),
    Command("complain", ("投诉", "登记投诉"), "登记客户投诉"),
    Command("handover", ("交接班", "交班"), "填写交接班记录"),
    Command("cancel", ("取消", "退出"), "退出正在填写的内容"),
    Command("open", ("待办", "待处理"), "未办结的事件和投诉"),
    Command("show", ("查看", "详情"), "查看一条记录"),
    Command("status", ("查询", "进度"), "查询我提交的记录"),
    Command("ack", ("收到", "确认收到"), "确认收到事件"),
    Command("assign", ("指派", "分派"), "指派处理人"),
    Command("note", ("备注",), "添加备注"),
    Command("accept", ("受理",), "受理投诉"),
    Command("progress", ("处理中",), "投诉处理中"),
    Command("resolve", ("解决", "处理完"), "标记已解决"),
    Command("visit", ("回访",), "记录回访"),
    Command("close", ("关闭", "结案"), "关闭记录"),
    Command("export", ("导出",), "导出记录（CSV/XLSX）"),
    Command("whoami", ("我是谁",), "查看我的身份"),
    Command("checkin", ("签到", "到岗"), "上班签到"),
    Command("ok", ("平安", "我在", "在岗"), "回复查岗：平安"),
    Command("roster", ("排班", "值班表"), "值班表；经理排班"),
    Command("remind", ("提醒", "设提醒"), "设提醒，例如：提醒 明天 09:00 提交月报"),
    Command("reminders", ("我的提醒", "提醒列表"), "查看和我有关的提醒"),
    Command("unremind", ("取消提醒",), "取消我设的提醒"),
)

BY_NAME = {c.name: c for c in COMMANDS}
_BY_WORD = {w: c for c in COMMANDS for w in c.words}


@dataclass(frozen=True)
class Parsed:
    command: str | None  # None: plain text; "?": an unknown slash command
    args: str
    raw_command: str = ""  # as typed, for the "unknown command" reply


def parse(text: str) -> Parsed:
    """Split a message into a command and its arguments; plain text has command None."""
    stripped = text.strip()
    head, _, rest = stripped.partition(" ")
    if head.startswith("/") and len(head) > 1:
        name = head[1:].split("@", 1)[0].lower()  # "/help@dutybot" in group chats
        command = BY_NAME.get(name)
        return Parsed(command.name if command else "?", rest.strip(), raw_command=head)
    word_command = _BY_WORD.get(head)
    if word_command:
        return Parsed(word_command.name, rest.strip(), raw_command=head)
    return Parsed(None, stripped)
