"""The `dutybot` command line. Subcommands import only what they need, so `ask` starts fast."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings
    from retrieval.model import Answer
    from retrieval.search import Searcher

log = logging.getLogger("dutybot")

EXIT_SEEDS = 2
EXIT_SETTINGS = 2


def format_settings_errors(err: Any) -> str:
    """A wrong setting in .env or the environment, in Chinese, by name (values are never echoed)."""
    lines = ["配置有误，请检查 .env 或环境变量："]
    for problem in err.errors():
        name = ".".join(str(part) for part in problem.get("loc", ())).upper() or "?"
        lines.append(f"  {name}: {problem.get('msg', '')}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from pydantic import ValidationError

    from bot.settings import load_settings

    try:
        settings = load_settings()
    except ValidationError as err:
        print(format_settings_errors(err), file=sys.stderr)
        return EXIT_SETTINGS
    _configure_logging(settings.log_level, settings.secret_values())
    from retrieval.lexicon import SeedError

    try:
        return int(args.func(args, settings) or 0)
    except SeedError as err:
        print(format_seed_problems(err.problems), file=sys.stderr)
        return EXIT_SEEDS
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`dutybot ask … | head -1`): nothing is wrong, stop quietly. Point
        # stdout at /dev/null so the interpreter's final flush does not complain either.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dutybot", description="Duty-desk assistant: rules Q&A.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the bot (console chat when no channel is configured)")
    run.add_argument("--as", dest="as_", metavar="ROLE_OR_NAME",
                     help="console chat as guard|clerk|manager|admin or as a registered person")
    run.set_defaults(func=_cmd_run)

    db = sub.add_parser("db", help="the database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations").set_defaults(func=_cmd_db_upgrade)

    staff = sub.add_parser("staff", help="人员：登记、列表、停用、邀请码")
    staff.set_defaults(func=_cmd_staff)
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="登记一个人员")
    add.add_argument("--name", required=True, help="姓名")
    add.add_argument("--role", required=True, help="guard|clerk|manager|admin（也可写 保安、客服、经理、管理员）")
    add.add_argument("--telegram-id", type=int, help="Telegram 数字用户 ID")
    add.add_argument("--wecom-userid", help="企业微信 userid")
    add.add_argument("--level", type=int, help="经理的上报级别（1 = 最先通知）")
    staff_sub.add_parser("list", help="列出所有人员")
    for name, help_ in (("deactivate", "停用一个人员（记录保留）"), ("activate", "重新启用已停用的人员")):
        staff_sub.add_parser(name, help=help_).add_argument("ref", metavar="编号或姓名")
    invite = staff_sub.add_parser("invite", help="邀请码：新同事用 --role；已登记的人绑定新账号只用 --name")
    invite.add_argument("--role", help="新同事的角色")
    invite.add_argument("--name", help="新同事的姓名；不带 --role 时：要绑定新账号的已登记人员（姓名或编号）")
    invite.add_argument("--hours", type=int, default=72, help="有效小时数（默认 72）")

    ask = sub.add_parser("ask", help="answer a question as staff would see it in chat")
    ask.add_argument("question", nargs="?", help="the question; omitted: one question a line from stdin")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("-k", type=int, default=3, help="number of hits (default 3)")
    ask.add_argument("--explain", action="store_true", help="show matched terms and their scores")
    ask.set_defaults(func=_cmd_ask)

    corpus = sub.add_parser("corpus", help="inspect the parsed regulations")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True)
    corpus_sub.add_parser("stats", help="documents and clauses per document").set_defaults(func=_cmd_corpus_stats)
    show = corpus_sub.add_parser("show", help="show clauses by id or citation")
    show.add_argument("ref", help="a clause id or a citation such as 《更夫守则》十、")
    show.set_defaults(func=_cmd_corpus_show)

    roster = sub.add_parser("roster", help="排班：导入 CSV、查看值班表")
    roster.set_defaults(func=_cmd_roster)
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    roster_import = roster_sub.add_parser("import", help="导入排班 CSV（表头：日期,班次,姓名）")
    roster_import.add_argument("file", metavar="FILE", help="CSV 文件（UTF-8，可带 BOM）")
    roster_show = roster_sub.add_parser("show", help="查看值班表（默认今天和明天）")
    roster_show.add_argument("day", nargs="?", metavar="DATE", help="日期：今天、明天、2026-12-01 或 12-01")

    reminders = sub.add_parser("reminders", help="定时提醒：列出全部提醒、重新读取 seeds/reminders.toml")
    reminders.set_defaults(func=_cmd_reminders)
    reminders_sub = reminders.add_subparsers(dest="reminders_command", required=True)
    reminders_sub.add_parser("list", help="列出所有生效的提醒（规章定时提醒和聊天里设的）及下次提醒时间")
    reminders_sub.add_parser("reload", help="重新读取 seeds/reminders.toml（运行中的机器人 30 秒内生效）")

    unanswered = sub.add_parser("unanswered", help="questions no rule answered, most asked first")
    unanswered.add_argument("--days", type=int, default=30, help="look back this many days (default 30)")
    unanswered.add_argument("--limit", type=int, default=50, help="at most this many questions (default 50)")
    unanswered.set_defaults(func=_cmd_unanswered)

    seeds = sub.add_parser("seeds", help="the admin-editable files in seeds/")
    seeds_sub = seeds.add_subparsers(dest="seeds_command", required=True)
    seeds_sub.add_parser("check", help="validate every file and report problems").set_defaults(
        func=_cmd_seeds_check
    )
    return parser


def _configure_logging(level: str, secrets: Iterable[str | None] = ()) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # jieba announces its dictionary load on every start, alembic every migration step: noise.
    # httpx logs every request URL at INFO, and Telegram puts the bot token in every URL.
    for chatty in ("jieba", "alembic", "httpx", "httpcore", "apscheduler.executors"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    from bot.logsafe import install_redaction

    install_redaction(secrets)


def _log_to_file(settings: Settings) -> None:
    """The console chat owns the terminal: logs go to DATA_DIR/dutybot.log, only warnings to stderr."""
    path = settings.data_dir / "dutybot.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(logging.WARNING)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(settings.log_level)
    root.addHandler(to_file)
    from bot.logsafe import install_redaction

    install_redaction()


def _searcher(settings: Settings) -> Searcher:
    # Straight to retrieval: `ask` must not pay for importing the database layer.
    from retrieval.search import Searcher

    return Searcher.from_seeds(settings.seeds_dir, settings.cache_dir)


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run
    from bot.seedcheck import check_seeds

    problems = check_seeds(settings.seeds_dir)
    if problems:
        print(format_seed_problems(problems), file=sys.stderr)
        return EXIT_SEEDS
    from bot.channels.base import ChannelConfigError
    from bot.core.identity import UnknownIdentity
    from bot.web import WebServerError

    _log_to_file(settings)
    try:
        run(settings, as_=args.as_)
    except UnknownIdentity as err:
        print(f"找不到唯一的人员“{err}”。--as 可以是 guard、clerk、manager、admin，或已登记的姓名。",
              file=sys.stderr)
        return 2
    except (ChannelConfigError, WebServerError) as err:
        print(f"无法启动：{err}", file=sys.stderr)
        return 2
    return 0


def _cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage.db import make_engine, upgrade

    upgrade(make_engine(settings.db_url))
    print("数据库已升级到最新版本。")
    return 0


def _cmd_reminders(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.reminder_list import cli

    return cli(args, settings)


def _cmd_roster(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.roster import cli

    return cli(args, settings)


def _cmd_unanswered(args: argparse.Namespace, settings: Settings) -> int:
    from bot.unanswered import cli

    return cli(args, settings)


def _cmd_staff(args: argparse.Namespace, settings: Settings) -> int:
    from bot.staff import cli

    return cli(args, settings)


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.k < 1:
        print("-k 必须是正整数", file=sys.stderr)
        return 2
    searcher = _searcher(settings)
    questions: Iterable[str] = [args.question] if args.question is not None else _stdin_lines()
    for question in questions:
        if args.json:
            print(json.dumps(ask_json(searcher, question, args.k, settings.max_question_chars),
                             ensure_ascii=False), flush=True)
        elif args.explain:
            print(_explain_text(searcher, question, args.k), flush=True)
        else:
            from bot.core.handlers.ask import answer_question

            print(answer_question(searcher, question, k=args.k, max_chars=settings.max_question_chars),
                  flush=True)
            if args.question is None:
                print(flush=True)
    return 0


def _stdin_lines() -> Iterable[str]:
    for line in sys.stdin:
        yield line.rstrip("\n").rstrip("\r")


def ask_json(searcher: Searcher, question: str, k: int, max_chars: int) -> dict[str, Any]:
    """The stable JSON contract of `dutybot ask --json` (more keys may be added, none removed)."""
    from bot.core.handlers.ask import clean_question, problem_with

    cleaned = clean_question(question)
    answer: Answer = searcher.ask(cleaned[:max_chars], k=k)
    problem = problem_with(cleaned, max_chars)
    answered = answer.answered and problem is None
    reason = answer.reason if problem is None else _problem_reason(cleaned, max_chars)
    return {
        "query": question,
        "answered": answered,
        "reason": None if answered else reason,
        "hits": [
            {
                "id": hit.clause.id,
                "doc": hit.clause.doc,
                "citation": hit.clause.citation,
                "text": hit.clause.text,
                "score": float(hit.score),
                "matched": list(hit.matched),
                "also": [{"id": c.id, "doc": c.doc, "citation": c.citation} for c in hit.also],
            }
            for hit in answer.hits
        ],
    }


def _problem_reason(cleaned: str, max_chars: int) -> str:
    if not cleaned:
        return "empty"
    return "too_long" if len(cleaned) > max_chars else "not_understood"


def _explain_text(searcher: Searcher, question: str, k: int) -> str:
    answer = searcher.ask(question, k=k)
    lines = [f"问题：{question}", f"结论：{'已回答' if answer.answered else '未回答（' + str(answer.reason) + '）'}"]
    for rank, item in enumerate(searcher.explain(question, k=k), start=1):
        terms = "、".join(f"{term} {value:.3f}" for term, value in item.get("terms", {}).items()) or "无"
        lines.append(f"{rank}. {item['citation']}  得分 {item['score']:.3f}")
        lines.append(f"   命中词：{terms}")
        lines.append(
            f"   覆盖 {item['coverage']:.2f} · 缺的最具体的词权重 {item['gap']:.1f} · "
            f"可信度 {item['confidence']:.2f}（回答门槛 {searcher.min_confidence:.2f}）"
        )
    return "\n".join(lines)


def _cmd_corpus_stats(_args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.corpus import load_corpus

    docs = load_corpus(settings.seeds_dir / "regulations")
    total = sum(len(d.clauses) for d in docs)
    print(f"文档 {len(docs)} 份，条款 {total} 条")
    width = max((len(d.title) for d in docs), default=0)
    for doc in docs:
        print(f"  {doc.title.ljust(width, '　')}  {len(doc.clauses):>4} 条")
    return 0


def _cmd_corpus_show(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.corpus import find_clauses, load_corpus

    docs = load_corpus(settings.seeds_dir / "regulations")
    found = find_clauses(docs, args.ref)
    if not found:
        print(f"没有找到“{args.ref}”对应的条款。可以用条款编号，或《文件名》加条号，如《更夫守则》十、")
        return 1
    if len(found) > 1:
        print(f"“{args.ref}”对应 {len(found)} 条：")
    for clause in found:
        print(f"[{clause.id}] {clause.citation}")
        if clause.headings:
            print("  标题：" + " › ".join(clause.headings))
        print("  " + clause.text)
        if clause.also_in:
            print("  另见：" + "、".join(clause.also_in))
    return 0


def _cmd_seeds_check(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.seedcheck import check_seeds

    problems = check_seeds(settings.seeds_dir)
    if problems:
        print(format_seed_problems(problems))
        return 1
    print(f"seeds 检查通过：{settings.seeds_dir}")
    return 0


def format_seed_problems(problems: Sequence[Any]) -> str:
    lines = [f"seeds 文件有 {len(problems)} 处问题，请修改后再启动："]
    for p in problems:
        where = f"{p.file} 第 {p.line} 行" if p.line else p.file
        lines.append(f"  {where}：{p.message}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
