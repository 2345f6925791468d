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
