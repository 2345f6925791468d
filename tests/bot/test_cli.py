"""The `dutybot` command line as other tools and admins use it: real subprocesses, explicit settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SEEDS

DUTYBOT = [sys.executable, "-m", "bot"]


def run(args: list[str], env: dict[str, str], stdin: str | None = None, cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DUTYBOT, *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout, encoding="utf-8")


def test_ask_prints_the_rule_with_its_citation(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = run(["ask", "晚上几点要把大门关上"], cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "《更夫守则》十、"
    assert "九点钟以前必须" in done.stdout


def test_ask_json_reads_stdin_one_object_per_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    questions = ["值班能不能喝点酒\r", "", "公司年假有几天", "   ", "😀😀", "喝" * 10_000]
    done = run(["ask", "--json", "-k", "2"], cli_env, stdin="\n".join(questions) + "\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(questions)
    objects = [json.loads(line) for line in lines]
    assert [o["query"] for o in objects] == [q.rstrip("\r") for q in questions]
    for obj in objects:
        assert set(obj) >= {"query", "answered", "hits"}
        assert len(obj["hits"]) == 2  # min(k, clauses), also when not answered
        for hit in obj["hits"]:
            assert set(hit) >= {"id", "doc", "citation", "text", "score"}
            assert isinstance(hit["score"], float) and hit["score"] == hit["score"]  # finite, not NaN
            assert not hit["doc"].startswith("《")
    drink, blank, leave, spaces, emoji, huge = objects
    assert drink["answered"] and "喝酒" in drink["hits"][0]["text"]
    assert drink["hits"][0]["citation"] in {"《值班人员管理规定》四、", "《更夫守则》四、"}
    assert not blank["answered"] and not spaces["answered"] and not emoji["answered"]
    assert not leave["answered"]
    assert not huge["answered"]


def test_ask_stops_quietly_when_the_reader_goes_away(cli_env: dict[str, str], tmp_path: Path) -> None:
    # `dutybot ask --json < questions | head -1`: the pipe closes early; no traceback, exit 0.
    proc = subprocess.Popen([*DUTYBOT, "ask", "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env, cwd=tmp_path, text=True, encoding="utf-8")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write("值班能喝酒吗\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["answered"] is True
    proc.stdout.close()  # the reader is gone
    proc.stdin.write("晚上几点关大门\n" * 200)
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in proc.stderr.read()


def test_ask_json_single_question_and_exit_code(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = run(["ask", "--json", "食堂几点开饭"], cli_env, cwd=tmp_path)
    assert done.returncode == 0
    obj = json.loads(done.stdout)
    assert obj["answered"] is False and len(obj["hits"]) == 3


def test_corpus_commands(cli_env: dict[str, str], tmp_path: Path) -> None:
    stats = run(["corpus", "stats"], cli_env, cwd=tmp_path)
    assert stats.returncode == 0 and "更夫守则" in stats.stdout and "条款" in stats.stdout
    show = run(["corpus", "show", "《更夫守则》十、"], cli_env, cwd=tmp_path)
    assert show.returncode == 0 and "晚上九点钟以前必须关闭大门" in show.stdout
    several = run(["corpus", "show", "《更夫守则》"], cli_env, cwd=tmp_path)
    assert several.returncode == 0 and several.stdout.count("《更夫守则》") >= 10
    missing = run(["corpus", "show", "《不存在的规定》一、"], cli_env, cwd=tmp_path)
    assert missing.returncode == 1 and "没有找到" in missing.stdout


def test_seeds_check_reports_file_and_line_and_run_refuses(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run(["seeds", "check"], cli_env, cwd=tmp_path).returncode == 0
    broken = tmp_path / "seeds"
    shutil.copytree(SEEDS, broken)
    with (broken / "lexicon" / "userdict.txt").open("a", encoding="utf-8") as f:
        f.write("巡更 abc\n")
    env = {**cli_env, "SEEDS_DIR": str(broken)}
    check = run(["seeds", "check"], env, cwd=tmp_path)
    assert check.returncode == 1
    assert "userdict.txt" in check.stdout and "行" in check.stdout
    started = run(["run"], env, stdin="值班能喝酒吗\n", cwd=tmp_path)
    assert started.returncode != 0
    assert "userdict.txt" in started.stderr and "Traceback" not in started.stderr


def test_scripted_console_chat(cli_env: dict[str, str], tmp_path: Path) -> None:
    lines = ["值班能不能喝点酒", "", "/nosuchcommand", "帮助", "公司年假有几天"]
    done = run(["run"], cli_env, stdin="\n".join(lines) + "\n", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "控制台" not in out.splitlines()[0]  # no banner when scripted
    assert "你>" not in out  # no prompt
    assert out.index("喝酒") < out.index("请说一下您想问什么") < out.index("没有这个命令")
    assert out.index("没有这个命令") < out.index("查规章制度") < out.index("没有找到相关规定")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("as_", ["guard", "clerk", "manager", "admin"])
def test_console_as_role_reports_who_it_is(cli_env: dict[str, str], tmp_path: Path, as_: str) -> None:
    done = run(["run", "--as", as_], cli_env, stdin="我是谁\n", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "控制台" in done.stdout


def test_console_as_unknown_person(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = run(["run", "--as", "不存在的人"], cli_env, stdin="", cwd=tmp_path)
    assert done.returncode == 2 and "找不到" in done.stderr
