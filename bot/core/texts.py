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
NO_EXACT_RULE = "没有找到直接对应的规定。最接近的是：\n{citation}\n{text}\n如果不是您要问的，可以换个说法再问，或问值班领导。"
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

_HELP_ALL = """直接发问题就能查规章制度，例如“值班能喝酒吗？”“晚上几点关大门？”。
我会给出规定原文和出处；没有相关规定时会直接告诉您。"""

_HELP_BY_ROLE = {
    "guard": "上报 [内容] — 上报事件（只发“上报”会一步步引导）\n签到 — 上班签到\n平安 — 回复在岗确认\n"
             "交接班 [内容] — 填写交接班记录\n排班 — 今天和明天谁值班\n查询 编号 — 查看我上报的事件进度\n"
             "提醒 明天 09:00 内容 — 给自己设提醒；我的提醒 / 取消提醒 编号",
    "clerk": "投诉 [内容] — 登记客户投诉（只发“投诉”会一步步引导）\n查询 编号 — 查看我登记的投诉进度\n"
             "交接班 [内容] — 填写交接班记录\n排班 — 今天和明天谁值班\n"
             "提醒 明天 09:00 内容 — 给自己设提醒；我的提醒 / 取消提醒 编号",
    "manager": "待办 — 未办结的事件和投诉\n查看 编号 / 收到 编号 / 指派 编号 姓名 / 备注 编号 内容\n"
               "受理 / 处理中 / 解决 / 回访 / 关闭 编号 [说明]\n导出 [起 止] — 导出记录（私聊）\n"
               "排班 [明天 夜班 张三] — 查看或安排值班\n提醒 每周一 08:30 @保安 内容 — 设提醒；我的提醒 / 取消提醒 编号",
}
_HELP_BY_ROLE["admin"] = _HELP_BY_ROLE["manager"]

_HELP_FOOTER = "取消 — 退出正在填写的内容\n帮助 — 查看本说明"


def help_for(role: str) -> str:
    return "\n\n".join(
        part for part in (_HELP_ALL, "常用命令（也可以用 /report 这样的英文命令）：", _HELP_BY_ROLE.get(role, ""), _HELP_FOOTER) if part
    )
DELIVERY_FAILED = "⚠️ 消息没能发给 {who}，已放弃重试：{text}\n原因：{error}"
NOTIFY_PREFIX = "→ {name}({role}): "

# --- Escalation (逐级上报; bot/core/escalation.py) ---
ESC_KIND = {"incident": "事件", "complaint": "投诉"}
ESC_HEAD = "【{kind} {number}】{urgent}"
ESC_URGENT = "🔴紧急"
ESC_FILED_BY = "上报人：{who}　{when}"
ESC_WHERE = "地点：{where}"
ESC_CUSTOMER = "客户：{customer}"
ESC_WHAT = "内容：{what}"
ESC_NEXT_LEVEL = "{minutes}分钟内无人确认将上报{level}。"
ESC_NEXT_REPEAT = "{minutes}分钟内无人确认将再次提醒。"
ESC_ROBOT_HOW = "负责的同事请在企业微信应用里回复“收到 {number}”确认。"
ESC_CLIMBED = "（已逐级上报：{level}未在{minutes}分钟内确认）"
ESC_REPEATED = "（第{n}次提醒：仍无人确认）"
ESC_URGENT_ALL = "（紧急，已同时通知：{levels}）"
ESC_NOBODY = "（逐级上报名单里没有人，只能通知管理员。请用 dutybot staff add --level N 设置各级负责人）"
ESC_BUTTON_ACK = "收到"
ESC_BUTTON_ACCEPT = "受理"
ESC_BUTTON_ASSIGN = "指派"
ESC_BUTTON_SHOW = "查看"
ESC_NOTE_START = "已通知 {targets}"
ESC_NOTE_URGENT = "紧急，已同时通知 {targets}"
ESC_NOTE_CLIMB = "无人确认，已上报 {targets}"
ESC_NOTE_REPEAT = "第{n}次提醒 {targets}"
ESC_NOTE_ADMINS = "上报名单里没有人，已通知管理员 {targets}"
ESC_NOTE_NOBODY = "上报名单和管理员都没有人，无人可通知"

# --- Staff and onboarding (invite codes, /start) ---
CHANNEL_NAMES = {"telegram": "Telegram", "wecom": "企业微信", "console": "控制台"}
REGISTERED = "注册成功！您是 {name}（{role}）。"
BOUND = "绑定成功！这个{channel}账号已绑定到 {name}（{role}），在这里也能用值班助手了。"
WELCOME_BACK = "{name}您好，您已经是{role}，不需要再注册。发“帮助”查看我能做什么。"
ALREADY_BOUND = "已绑定：这个账号本来就是 {name}（{role}）的，不需要再用邀请码。"
ALREADY_REGISTERED = "这个账号已经注册为 {name}（{role}），不能再用邀请码。新同事请用自己的账号发送。"
INVITE_INVALID = "邀请码无效、已用过或已过期。请核对后重新发送，或向管理员要一个新的邀请码。"
INVITE_THROTTLED = "尝试次数太多，请 15 分钟后再试。"
INVITE_IN_GROUP = "邀请码请私聊我发送，群里发送的不会处理。"
ACCOUNT_DEACTIVATED = "这个账号已停用，不能再注册。如有疑问请联系管理员。"
ADMIN_REGISTERED = "{name} 已通过邀请码注册为{role}（{channel}）。"
ADMIN_BOUND = "{name}（{role}）已通过邀请码绑定了{channel}账号。"

# --- Manage: follow records to closure, /status, /export (bot/core/handlers/manage.py, lifecycle.py) ---
MG_KIND = {"incident": "事件", "complaint": "投诉"}
MG_URGENT = "🔴紧急"
MG_SYSTEM = "系统"
MG_NEED_NUMBER = "请写上编号，例如：{command} SJ-20261127-003"
MG_NOT_A_NUMBER = "“{text}”不是编号。编号像 SJ-20261127-003（事件）或 TS-20261127-001（投诉）。"
MG_NOT_FOUND = "没有找到编号 {number}。请核对编号，或发“待办”查看未办结的记录。"
MG_VERB = {
    "ack": "确认收到", "accept": "受理", "assign": "指派", "note": "备注", "progress": "改为处理中",
    "resolve": "标记解决", "visit": "回访", "close": "关闭",
}
MG_EVENT = {
    "created": "登记", "acked": "确认收到", "accepted": "受理", "assigned": "指派", "note": "备注",
    "in_progress": "处理中", "resolved": "已解决", "visited": "回访", "closed": "关闭",
    "escalated": "逐级上报", "reminded": "提醒", "attached": "附件",
}
MG_ATTACHMENT_KIND = {"photo": "照片", "location": "位置", "voice": "语音", "video": "视频", "file": "文件"}

# Lifecycle: done
MG_DONE = {
    "ack": "已确认收到 {number}。",
    "accept": "已受理 {number}。处理中请发：处理中 {number} 说明；办完发：解决 {number} 结果",
    "progress": "{number} 已改为处理中。",
    "resolve": "{number} 已标记解决。",
    "visit": "{number} 已记录回访。办结请发：关闭 {number}",
    "close": "{number} 已关闭。",
    "note": "已给 {number} 添加备注。",
}
MG_ACK_NEXT_INCIDENT = "办完请发：解决 {number} 结果；要别人处理请发：指派 {number} 姓名"
MG_RESOLVED_NEXT_COMPLAINT = "回访客户后请发：回访 {number} 结果"
MG_RESOLVED_NEXT_INCIDENT = "确认无误后请发：关闭 {number}"
# Lifecycle: refused
MG_CLOSED_ALREADY = "{number} 已经关闭了（{when}）。"
MG_CLOSED_CANNOT = "{number} 已经关闭了（{when}），不能再{verb}。"
MG_ACKED_ALREADY = "{number} 已经确认过了（{who} {when}）。"
MG_ACCEPTED_ALREADY = "{number} 已经受理过了（{who} {when}）。"
MG_ACCEPT_INCIDENT = "受理只用于投诉。事件请发：收到 {number}"
MG_VISIT_INCIDENT = "回访只用于投诉。事件办完请发：关闭 {number}"
MG_ACCEPT_FIRST = "{number} 还没有受理，请先发：受理 {number}"
MG_RESOLVED_ALREADY = "{number} 已经解决了（结果：{resolution}）。"
MG_NOT_RESOLVED_YET = "{number} 还没有解决，解决后再回访：解决 {number} 结果"
MG_VISITED_ALREADY = "{number} 已经回访过了。办结请发：关闭 {number}"
MG_CLOSE_NEEDS_REASON = "{number} 现在是“{status}”，还没有办完。如要直接关闭，请写明原因，例如：关闭 {number} 误报"
MG_WRONG_STATE = "{number} 现在是“{status}”，不能{verb}。"
MG_NEED_RESULT = "请写上处理结果，例如：解决 {number} 门锁已修好"
MG_NEED_VISIT = "请写上回访结果，例如：回访 {number} 客户满意"
MG_NEED_NOTE = "请写上备注内容，例如：备注 {number} 已联系物业"
MG_NOTE_TOO_LONG = "内容太长了（{length} 字），请控制在 {limit} 字以内。"
# Notifications
MG_TELL_AUTHOR = {
    "ack": "您提交的{kind} {number}（{what}）已由 {who} 确认收到。",
    "accept": "您提交的{kind} {number}（{what}）已由 {who} 受理。",
    "assign": "您提交的{kind} {number}（{what}）已指派给 {assignee} 处理。",
    "resolve": "您提交的{kind} {number}（{what}）已解决：{note}",
    "close": "您提交的{kind} {number}（{what}）已关闭。",
}
MG_TELL_ASSIGNEE = "{who} 指派您处理{kind} {number}{urgent}：{what}\n办完请发：解决 {number} 结果"
MG_TELL_ASSIGNEE_NOTE = "{who} 给您处理的 {number} 加了备注：{note}"
# Assign
MG_ASSIGN_NEED_NAME = "请写上处理人姓名，例如：指派 {number} 张伟"
MG_ASSIGN_UNKNOWN = "没有找到叫“{name}”的人员。请写全名，例如：指派 {number} 张伟"
MG_ASSIGN_CHOOSE = "有 {count} 位叫“{name}”的人员：\n{choices}\n请回复：指派 {number} {name} 序号（例如 指派 {number} {name} 1）"
MG_ASSIGN_SIMILAR = "没有叫“{name}”的人员，相近的有：\n{choices}\n请回复：指派 {number} {name} 序号（例如 指派 {number} {name} 1）"
MG_ASSIGN_BAD_INDEX = "序号要在 1 到 {count} 之间：\n{choices}"
MG_ASSIGN_SAME = "{number} 已经指派给 {name} 了。"
MG_ASSIGN_CLOSED = "{number} 已经关闭了（{when}），不能再指派。"
MG_ASSIGNED = "已把 {number} 指派给 {name}，已通知对方。"
MG_ASSIGNED_SELF = "已把 {number} 指派给您自己。"
MG_ASSIGNED_NOTE = "指派给 {name}"
MG_REASSIGNED_NOTE = "改派给 {name}（原 {previous}）"
# /open
MG_OPEN_NONE = "目前没有未办结的事件和投诉。"
MG_OPEN_HEAD = "未办结 {total} 条（紧急 {urgent}，超期 {overdue}）："
MG_OPEN_MORE = "……还有 {more} 条未列出。"
MG_OPEN_FOOT = "看详情请发：查看 编号"
MG_OVERDUE = "⚠️已超期"
MG_DUE = "{when}到期"
MG_JUST_NOW = "刚刚"
MG_MINUTES_AGO = "{n}分钟前"
MG_HOURS_AGO = "{n}小时前"
MG_DAYS_AGO = "{n}天前"
# /show and /status
MG_SHOW_HEAD = "【{kind} {number}】{urgent}"
MG_SHOW_STATUS = "状态：{status}"
MG_SHOW_CONTENT = "内容：{content}"
MG_SHOW_LOCATION = "地点：{location}"
MG_SHOW_CATEGORY = "分类：{category}"
MG_SHOW_CUSTOMER = "客户：{customer}"
MG_SHOW_CONTACT = "联系方式：{contact}"
MG_SHOW_AUTHOR = "提交人：{who}　{when}"
MG_SHOW_ASSIGNEE = "处理人：{who}"
MG_SHOW_ACKED = "确认：{who}　{when}"
MG_SHOW_DUE = "期限：{when}{overdue}"
MG_SHOW_RESOLUTION = "处理结果：{resolution}"
MG_SHOW_CLOSED = "关闭：{when}"
MG_SHOW_ATTACHMENTS = "附件：{items}"
MG_SHOW_EVENTS = "经过："
MG_SHOW_EVENTS_MORE = "（前面还有 {more} 条）"
MG_STATUS_NONE = "您还没有提交过事件或投诉。"
MG_STATUS_HEAD = "您最近提交的记录："
MG_STATUS_FOOT = "看某一条请发：查询 编号"
# /export
MG_EXPORT_PRIVATE_ONLY = "导出只能在私聊里用，请私聊我发送“导出”。"
MG_EXPORT_BAD_DATES = ("没看懂日期“{text}”。例如：导出 2026-11-01 2026-11-30，导出 11-01 11-30，"
                       "导出 11月1日 11月30日，导出 11月；只发“导出”就是本月 1 日到今天。")
MG_EXPORT_BACKWARDS = "开始日期 {start} 晚于结束日期 {end}，请把早的日期写在前面。"
MG_EXPORT_NONE = "{start}–{end} 没有登记的事件和投诉。"
MG_EXPORT_CSV = "{start}–{end} 共 {count} 条记录（CSV，Excel 可直接打开）。"
MG_EXPORT_XLSX = "同样的 {count} 条记录（Excel 表格）。"
MG_EXPORT_COLUMNS = ("编号", "类型", "状态", "紧急", "内容", "地点", "分类", "客户", "联系方式", "提交人",
                     "处理人", "登记时间", "确认时间", "期限", "处理结果", "关闭时间")
MG_YES = "是"
MG_NO = "否"

# --- Filing records: incident reports, complaints, shift handovers (report.py, complaint.py, handover.py) ---
FILE_BTN_CONFIRM = "确认"
FILE_BTN_CANCEL = "取消"
FILE_BTN_SKIP = "跳过"
FILE_NOT_GIVEN = "未填写"
FILE_TOO_LONG = "内容太长了（{length} 字），请精简到 {limit} 字以内再发。"
FILE_CONFIRM_UNCLEAR = "请回“确认”提交，或回“取消”放弃。"
FILE_NO_MEDIA_HERE = "{what}不能附照片、位置、语音或文件，没有保存。"
ATTACHMENT_UNSUPPORTED = "语音、贴纸和文件我暂时看不懂，没有保存。请发文字；上报事件时可以发照片和位置。"
ATTACHMENT_NOT_REPORTER = "照片和位置只在上报事件时使用，您的账号不能上报事件，没有保存。请用文字说明。"

REP_BTN_NORMAL = "一般"
REP_BTN_URGENT = "紧急"
REP_BTN_OFFER = "上报"
REP_URGENCY = {False: "一般", True: "紧急"}
REP_ASK_WHAT = "请说一下发生了什么（例如：东门围墙有人翻入）。发“取消”退出。"
REP_PHOTO_FIRST = "收到照片。要上报事件吗？请说一下发生了什么（不上报请发“取消”）。"
REP_LOCATION_FIRST = "收到位置。要上报事件吗？请说一下发生了什么（不上报请发“取消”）。"
REP_CAPTION_FIRST = "收到照片和说明，按事件上报。"
REP_WHAT_UNCLEAR = "没看懂。请用文字说一下发生了什么。"
REP_ASK_WHERE = "在哪里？（例如：东门围墙、3号楼地下车库；也可以直接发位置。不清楚请回“跳过”）"
REP_WHERE_UNCLEAR = "没看懂地点。请用文字写在哪里，或者发位置；不清楚请回“跳过”。"
REP_WHERE_TOO_LONG = "地点请写短一些（{limit} 字以内）。"
REP_WHERE_PINNED = "已发定位（{ref}）"
REP_ASK_URGENCY = "紧急程度？回 1 一般，回 2 紧急（着火、打架、有人受伤等选紧急）。"
REP_URGENCY_UNCLEAR = "请选紧急程度：回 1 一般，或回 2 紧急。"
REP_ASK_MEDIA = "有现场照片或位置吗？有就直接发过来；没有请回“跳过”。"
REP_MEDIA_UNCLEAR = "请发照片或位置；没有请回“跳过”。"
REP_ATTACHED = "已收到{what}。"
REP_PHOTOS = "照片{n}张"
REP_LOCATIONS = "位置{n}个"
REP_NO_ATTACHMENTS = "无"
REP_SUMMARY = "请确认要上报的事件：\n内容：{what}\n地点：{where}\n紧急程度：{urgency}\n照片/位置：{attachments}\n\n回“确认”提交，回“取消”放弃。"
REP_CANCELLED = "已取消，没有上报。"
REP_FILED = "已上报，编号 {number}{urgent}。\n{told}发“查询 {number}”可看进度。\n内容：{what}"
REP_TOLD = "已通知值班负责人，请保持电话畅通；"
NOBODY_TOLD = "注意：还没有登记值班负责人，这条记录已保存但没有通知到任何人，请直接电话联系负责人，并请管理员登记人员（dutybot staff add）。\n"
REP_FILED_URGENT = "（紧急）"
REP_FILED_ATTACHMENTS = "照片/位置：{attachments}"
REP_RULE = "相关规定：{citation} {text}"
REP_OFFER = "这像是要上报的事件。要上报请点“上报”，我一步步问您（或直接发“上报 发生了什么”）。"

CMP_ASK_CUSTOMER = "客户姓名？（例如：王女士；不知道请回“跳过”）发“取消”退出。"
CMP_START_UNCLEAR = "没看懂投诉内容，我们一步步来。"
CMP_CUSTOMER_UNCLEAR = "没看懂客户姓名，请用文字写（{limit} 字以内）；不知道请回“跳过”。"
CMP_ASK_CONTACT = "客户联系方式？（手机号或座机，例如 13800138000；没有请回“跳过”）"
CMP_CONTACT_BAD = "这看起来不像电话号码。请发手机号或座机号（例如 13800138000、0769-22223333）；没有请回“跳过”。"
CMP_ASK_CONTENT = "客户投诉什么？请把客户反映的情况写清楚。"
CMP_CONTENT_UNCLEAR = "没看懂，请用文字写投诉内容。"
CMP_ASK_CATEGORY = "属于哪一类？回数字：\n{options}"
CMP_CATEGORY_UNCLEAR = "没有这个选项。请回数字：\n{options}"
CMP_DUE = "{month}月{day}日（周{weekday}）{time}前处理完"
CMP_WEEKDAYS = "一二三四五六日"
CMP_SUMMARY = "请确认要登记的投诉：\n客户：{customer}\n联系方式：{contact}\n内容：{what}\n类别：{category}（{due}）\n\n回“确认”提交，回“取消”放弃。"
CMP_CANCELLED = "已取消，没有登记投诉。"
CMP_FILED = "已登记投诉，编号 {number}。\n类别：{category}，{due}。\n{told}发“查询 {number}”可看进度。\n内容：{what}"
CMP_TOLD = "已通知值班负责人；"

HO_LAST = "上一次交接班：{who}，{when}\n{content}"
HO_NONE_YET = "还没有交接班记录。"
HO_OPEN = "未办结的事件（{count} 件）："
HO_OPEN_NONE = "目前没有未办结的事件。"
HO_OPEN_LINE = "· {number} {status}{urgent} {what}"
HO_OPEN_URGENT = " 紧急"
HO_OPEN_MORE = "……共 {count} 件，这里只列前 {shown} 件。"
HO_ASK_CONTENT = "要写本班交接，请直接发交接内容（本班情况、注意事项）；不写请发“取消”。"
HO_CONTENT_UNCLEAR = "没看懂，请用文字写交接内容。"
HO_SUMMARY = "请确认交接内容：\n{content}\n\n{open}\n\n回“确认”提交，回“取消”放弃。"
HO_CANCELLED = "已取消，没有记录交接班。"
HO_FILED = "交接班已记录（{when}）。\n{open}"
HO_FILED_NOTIFIED = "已通知经理：{names}。"
HO_NOTIFY = "【交接班】{who}　{when}\n{content}\n\n{open}"

# --- Duty: shifts, roster, check-in, welfare checks, deadlines (jobs/shifts.py, jobs/roster.py, jobs/deadlines.py, handlers/duty.py) ---
DUTY_CITE_LATE = "《值班人员管理规定》三、不准迟到、早退，不准脱岗、睡岗、串岗和擅自找人顶岗。"
DUTY_CITE_HANDOVER = "《值班人员管理规定》一、认真填写交接班记录，交班时要交清本班发生的问题。"
DUTY_LATE_NOTE = "\n（系统延迟补发：本应 {when} 发出）"
DUTY_BTN_CHECKIN = "签到"
DUTY_BTN_HANDOVER = "交接班"
DUTY_BTN_OK = "平安"
DUTY_BTN_ROSTER = "值班表"
# Sent by the duty tick
DUTY_REMIND = "【上班提醒】{name}，您{day}的{shift}（{hours}）{minutes}分钟后开始。到岗后请发“签到”。\n{cite}"
DUTY_ABSENT = "【未签到】{who} {day}{shift}（{hours}）已开班 {minutes} 分钟，还没有签到（迟到或缺岗），请核实。\n依据：{cite}"
DUTY_HANDOVER_REMIND = "【交班提醒】{name}，您的{shift}（{hours}）已结束，请在 {minutes} 分钟内填写交接班记录：发“交接班 本班情况…”。\n依据：{cite}"
DUTY_HANDOVER_MISSING = "【未交接班】{who} {day}{shift}（{hours}）已下班 {minutes} 分钟，还没有填写交接班记录。\n依据：{cite}"
DUTY_HANDOVER_STILL = "您的{shift}交接班记录还没有填写，已通知班长。请尽快发“交接班 本班情况…”补填。"
DUTY_WELFARE_ASK = "【查岗】{name}，请回复“平安”确认在岗（{minutes}分钟内，{until}前）。"
DUTY_WELFARE_MISSED = "【查岗未回复】{who}（{shift} {hours}）{asked} 的查岗，{minutes}分钟内没有回复“平安”。请电话联系或到岗查看。\n依据：{cite}"
# /checkin
DUTY_CHECKED_IN = "已签到：{day}{shift}（{hours}），签到时间 {time}。"
DUTY_CHECKED_IN_LATE = "迟到 {minutes} 分钟，已记录。"
DUTY_CHECKED_IN_TOLD = "班长已收到未签到通知，已告诉他您到岗了。"
DUTY_ALREADY_IN = "您已经签到过了：{shift}（{hours}），签到时间 {time}。"
DUTY_NO_SHIFT_NOW = "您现在没有要签到的班。"
DUTY_NEXT_SHIFT = "您的下一个班：{day}{shift}（{hours}），上班前 {early} 分钟内可以签到。"
DUTY_NO_NEXT = "今天和明天都没有给您排班。如有出入请联系班长。"
DUTY_LATE_CHECKIN_NOTE = "【已签到】{who} 已签到：{shift}（{hours}），迟到 {minutes} 分钟。"
# /ok
DUTY_OK = "收到，平安。（{time}）"
DUTY_OK_LATE = "已记录您 {time} 回复平安（{asked} 的查岗，超过了回复时限）。"
DUTY_OK_NONE = "现在没有要回复的查岗。值夜班时我会定时问您，到时回“平安”就行。"
DUTY_OK_LATE_NOTE = "【查岗回复】{who} {time} 回复了平安（{asked} 的查岗，已超时）。"
# /roster
DUTY_ROSTER_HEAD = "值班表"
DUTY_ROSTER_LINE = "· {shift} {hours}：{names}"
DUTY_ROSTER_NOBODY = "未排班"
DUTY_ROSTER_IN = "已签到"
DUTY_ROSTER_IN_LATE = "已签到，迟到{minutes}分钟"
DUTY_ROSTER_NOT_IN = "未签到"
DUTY_ROSTER_FOOT = "排班：发“排班 明天 夜班 张三”；删除：发“排班 删除 明天 夜班 张三”。"
DUTY_ROSTER_USAGE = "没看懂。排班这样写：排班 明天 夜班 张三（日期可写 今天、明天、后天、12-01、2026-12-01；班次：{shifts}）。只看值班表发“排班”。"
DUTY_ROSTER_BAD_DAY = "没看懂日期“{text}”。可以写 今天、明天、后天、12-01 或 2026-12-01。"
DUTY_ROSTER_BAD_SHIFT = "没有“{text}”这个班次。现有班次：{shifts}。"
DUTY_ROSTER_NEED_NAME = "请写上姓名，例如：排班 明天 {shift} 张三"
DUTY_ROSTER_UNKNOWN = "没有找到“{name}”（在职人员里没有）。"
DUTY_ROSTER_SIMILAR = "没有叫“{name}”的人，是不是：{choices}？请写全名。"
DUTY_ROSTER_AMBIGUOUS = "有 {count} 个人叫“{name}”：{choices}。请改写编号，例如：排班 {day} {shift} {id}"
DUTY_ROSTER_ENDED = "{day}{shift} 已经结束了，不能再排。"
DUTY_ROSTER_TOO_FAR = "只能排一年以内的班。"
DUTY_ROSTER_ADDED = "已排班：{day}{shift}（{hours}）{names}。"
DUTY_ROSTER_ALREADY = "{names} 已经在 {day}{shift}，不用再排。"
DUTY_ROSTER_NOTIFY = "【排班】您被安排在 {day}{shift}（{hours}）。到岗后请发“签到”。"
DUTY_ROSTER_REMOVED = "已删除排班：{day}{shift} {names}。"
DUTY_ROSTER_NOT_ON = "{day}{shift} 没有排 {names}。"
DUTY_ROSTER_STARTED = "{day}{shift} 已经开始或结束，不能删除（{names}）。要换人请另排一人。"
DUTY_ROSTER_REMOVED_NOTIFY = "【排班取消】您{day}的{shift}（{hours}）已取消。"
DUTY_ROSTER_ONLY_MANAGERS = "只有经理可以排班。看值班表发“排班”。"
DUTY_PERSON_CHOICE = "{name}（编号 {id}，{role}）"
# dutybot roster import / show
ROSTER_CSV_NOT_UTF8 = "不是 UTF-8 编码，请在 Excel 里另存为“CSV UTF-8”。"
ROSTER_CSV_HEADER = "第一行要是表头：日期,班次,姓名（或 date,shift,name），现在是“{text}”。"
ROSTER_CSV_COLUMNS = "这一行只有 {n} 栏，要有 日期、班次、姓名。"
ROSTER_CSV_BAD_DAY = "日期“{text}”不对，要写成 2026-12-01。"
ROSTER_CSV_FAR = "日期“{text}”离今天超过一年。"
ROSTER_CSV_BAD_SHIFT = "没有“{text}”这个班次（现有：{shifts}）。"
ROSTER_CSV_NO_NAME = "姓名是空的。"
ROSTER_CSV_UNKNOWN = "没有叫“{name}”的在职人员（先用 dutybot staff add 登记）。"
ROSTER_CSV_AMBIGUOUS = "有 {count} 个人叫“{name}”（编号 {ids}），这一行的姓名请写编号。"
ROSTER_CSV_EMPTY = "文件里没有排班（空文件或只有表头）。"
ROSTER_CSV_LINE = "第 {line} 行：{message}"
ROSTER_CSV_FAILED = "{file} 有 {count} 行不对，什么都没有导入。请改好后再导入："
ROSTER_CSV_DONE = "已导入 {added} 条排班{span}，跳过重复 {dup} 条。"
ROSTER_CSV_SPAN = "（{first} 至 {last}）"
ROSTER_CLI_BAD_DAY = "没看懂日期“{text}”。可以写 今天、明天、2026-12-01 或 12-01。"
ROSTER_CLI_NO_FILE = "找不到文件：{file}"
# Deadlines (jobs/deadlines.py)
DL_BEFORE = "【到期提醒】{kind} {number} 将于 {due} 到期（还有 {left}），请抓紧办理。\n状态：{status}，处理人：{assignee}\n内容：{what}"
DL_OVERDUE = "【已超期】{kind} {number} 已超过办理时限（{due} 到期{days}）。\n状态：{status}，处理人：{assignee}\n内容：{what}"
DL_OVERDUE_DAYS = "，已超期 {n} 天"
DL_LEFT_HOURS = "{h}小时"
DL_LEFT_HOURS_MINUTES = "{h}小时{m}分钟"
DL_LEFT_MINUTES = "{m}分钟"
DL_UNASSIGNED = "未指派"
DL_BTN_SHOW = "查看"
DL_NOTE_BEFORE = "到期提醒：{names}"
DL_NOTE_OVERDUE = "超期督办：{names}"
MG_EVENT.update({"due_reminded": "到期提醒", "overdue_reminded": "超期督办"})

# --- Reminders (提醒; bot/core/timephrase.py, bot/core/handlers/reminders.py, jobs/reminders.py) ---

# Time phrases
TP_EMPTY = "请写上提醒时间和内容，例如：明天 09:00 提交月报。"
TP_NOT_UNDERSTOOD = "没看懂提醒时间“{what}”。可以这样写：明天 09:00、下周一 8点半、每天 20:45、每周一三五 08:30、工作日 17:30、每月20号 09:00、半小时后。"
TP_NEED_TIME = "“{what}”要写几点，例如：{what} 09:00。"
TP_NEED_TIME_PERIOD = "“{what}”要写几点，例如：{what}3点。"
TP_BAD_CLOCK = "时间“{what}”不对：小时是 0–23，分钟是 0–59（例如 20:45、晚上8点半）。"
TP_BAD_DATE = "没有“{what}”这一天，请检查月份和日期。"
TP_BAD_WEEKDAY = "没看懂星期几：“{what}”。请写周一到周日，例如：每周一、每周一三五、每周一至周五。"
TP_BAD_MONTHLY = "每月几号？请写成“每月20号 09:00”这样（1 到 31 号），现在是“{what}”。"
TP_PAST = "这个时间已经过去了（{when}）。"
TP_PAST_TOMORROW = "要明天提醒，请写“明天 {time}”。"
TP_TOO_FAR = "最多只能设一年以内的提醒，{when} 太远了。"
TP_ZERO = "“{what}”要大于 0。"
TP_NOTE_MONTH_END = "没有{day}号的月份不提醒。"

# /remind
RM_USAGE = """设提醒这样写：
提醒 明天 09:00 提交月报
提醒 每周一 08:30 安全例会
提醒 半小时后 巡逻一圈
经理还可以提醒别人：提醒 明天 09:00 @张三 提交月报（也可以 @保安、全体保安、@值班）"""
RM_NEED_TEXT = "要提醒什么？请在时间后面写上内容，例如：提醒 {phrase} 提交月报。"
RM_TEXT_TOO_LONG = "提醒内容请写短一些（{limit} 字以内）。"
RM_ONLY_SELF = "您只能给自己设提醒（不写 @ 就是提醒自己）。要提醒别人，请找经理。"
RM_UNKNOWN_NAME = "没有找到同事“{name}”。请写姓名，例如 @张三；也可以写 @保安、全体保安、@值班。"
RM_SIMILAR_NAMES = "没有叫“{name}”的同事。您是不是要找：{names}？请写完整姓名。"
RM_SAME_NAME = "有 {count} 位同事都叫“{name}”，没法区分。请联系管理员，或改用 @保安 这样的角色。"
RM_TOO_MANY = "您已经设了 {count} 条提醒，最多 {limit} 条。请先发“取消提醒 编号”取消不需要的。"
RM_SET = "已设提醒 #{id}：{when}，{to}：{text}"
RM_SET_NEXT = "下次提醒：{next}。"
RM_SET_FOOT = "取消请发“取消提醒 {id}”。"
RM_TO_SELF = "提醒您"
RM_TO = "提醒 {who}"
RM_CONSOLE_NOTE = "注意：控制台身份收不到提醒。要看提醒效果，请用 --as 姓名 以登记的人员身份登录。"
RM_ON_DUTY = "值班人员"
RM_ROBOT = "企业微信群“{name}”"
RM_ROLE_ALL = "全体{role}"
RM_NOBODY = "（没有人）"

# /reminders
RM_LIST_HEAD = "和您有关的提醒（{count} 条）："
RM_LIST_ALL_HEAD = "全部提醒（{count} 条）："
RM_LIST_NONE = "目前没有和您有关的提醒。设提醒：提醒 明天 09:00 提交月报"
RM_LIST_LINE = "#{id} 下次 {next} · {schedule} · {to} · {text}"
RM_LIST_MINE = "（我设的）"
RM_LIST_BY = "（{who} 设）"
RM_LIST_RULE = "（规章 {citation}）"
RM_LIST_MORE = "……还有 {more} 条没列出。"
RM_LIST_FOOT = "取消自己设的提醒：取消提醒 编号"
RM_LIST_FOOT_MANAGER = "看全部提醒：提醒列表 全部"
RM_NO_NEXT = "暂无"

# /unremind
RM_UNREMIND_USAGE = "请写上提醒编号，例如：取消提醒 12（发“我的提醒”查看编号）。"
RM_UNREMIND_NOT_FOUND = "没有找到您设的提醒 #{id}。发“我的提醒”查看编号。"
RM_UNREMIND_RULE = "提醒 #{id} 是规章制度的定时提醒，不能在聊天里取消；请管理员修改 seeds/reminders.toml。"
RM_UNREMIND_DONE = "提醒 #{id} 已取消：{text}"
RM_UNREMIND_ALREADY = "提醒 #{id} 已经取消或已经提醒过了。"

# What the reminded people read
RM_FIRE = "⏰ 提醒：{text}"
RM_FIRE_RULE = "依据：{citation}"
RM_FIRE_BY = "（{who} 设的提醒）"
RM_FIRE_NOBODY = "⚠️ 定时提醒没有发出：没有找到要提醒的人（{to}）。\n内容：{text}"
