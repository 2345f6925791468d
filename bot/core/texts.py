"""Every user-facing sentence of the core, in one place (Simplified Chinese, short and concrete)."""

from __future__ import annotations

HELP = """我是值班助手，可以帮您查公司规章制度。

直接发问题就行，例如：
· 值班能喝酒吗？
· 晚上几点要关大门？
· 客户投诉怎么处理？

我会给出规定原文和出处（如《更夫守则》十、）；没有相关规定时会直接告诉您。

命令：
/help 或 帮助 — 查看本说明
/ask 问题 或 问 问题 — 查规定（直接发问题也可以）"""

WELCOME = "您好，我是值班助手。直接发问题就能查规章制度，发“帮助”查看我能做什么。"

EMPTY_QUESTION = "请说一下您想问什么，例如：值班能喝酒吗？"
NOT_UNDERSTOOD = "没看懂您的问题。请用文字描述，例如：晚上几点要关大门？"
TOO_LONG = "问题太长了（{length} 字）。请用一两句话说清楚要问的事，{limit} 字以内。"
NO_RULE = "没有找到相关规定。"
NO_RULE_HINT = "可以换个说法再问，说清楚是什么事、在什么场合（例如“值班时能不能抽烟”）。如需帮助请问值班领导。"
USE_CHINESE = "目前只能回答中文问题，请用中文提问。"
SAME_RULE_ALSO_IN = "（{citations} 有相同规定）"
RELATED = "相关条款："
UNKNOWN_COMMAND = "没有这个命令：{command}。发“帮助”查看可以做什么。"
INTERNAL_ERROR = "抱歉，处理时出了点问题，请稍后再试。如果一直不行，请联系管理员。"

CONSOLE_BANNER = "dutybot 控制台 — 直接输入问题，/help 查看帮助，Ctrl-D 退出。"
CONSOLE_PROMPT = "你> "

STRANGER = "您好，您还没有开通值班助手。请向管理员要一个邀请码，然后发送“/start 邀请码”完成注册。"
NOT_ALLOWED = "您没有权限做这件事。如有需要，请联系您的主管。"
DIALOG_LEFT = "已退出未完成的{what}（未保存）。"
DIALOG_EXPIRED = "您之前未完成的{what}已超时作废，请重新开始。"
WHOAMI = "您是 {name}（{role}），已绑定：{channels}。"
NOTHING_TO_CANCEL = "现在没有正在填写的内容。"
ATTACHMENT_OUTSIDE_DIALOG = "收到。照片和位置请在上报事件时发送（先发“上报”）；语音、贴纸和文件我暂时看不懂，请用文字说明。"

_HELP_ALL = """直接发问题就能查规章制度，例如“值班能喝酒吗？”“晚上几点关大门？”。
我会给出规定原文和出处；没有相关规定时会直接告诉您。"""

_HELP_BY_ROLE = {
    "guard": "上报 [内容] — 上报事件（只发“上报”会一步步引导）\n交接班 [内容] — 填写交接班记录\n查询 编号 — 查看我上报的事件进度",
    "clerk": "投诉 [内容] — 登记客户投诉（只发“投诉”会一步步引导）\n查询 编号 — 查看我登记的投诉进度\n交接班 [内容] — 填写交接班记录",
    "manager": "待办 — 未办结的事件和投诉\n查看 编号 / 收到 编号 / 指派 编号 姓名 / 备注 编号 内容\n受理 / 处理中 / 解决 / 回访 / 关闭 编号 [说明]\n导出 [起 止] — 导出记录（私聊）",
}
_HELP_BY_ROLE["admin"] = _HELP_BY_ROLE["manager"]

_HELP_FOOTER = "取消 — 退出正在填写的内容\n帮助 — 查看本说明"


def help_for(role: str) -> str:
    return "\n\n".join(
        part for part in (_HELP_ALL, "常用命令（也可以用 /report 这样的英文命令）：", _HELP_BY_ROLE.get(role, ""), _HELP_FOOTER) if part
    )
DELIVERY_FAILED = "⚠️ 消息没能发给 {who}，已放弃重试：{text}\n原因：{error}"
NOTIFY_PREFIX = "→ {name}({role}): "
