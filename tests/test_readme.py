"""README.md's shell blocks run as written against a real `orderbot demo`, or say why they cannot."""
from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.base import ROOT, free_port
from tests.kit.demo import Demo, demo_env, get, start_demo

README = ROOT / "README.md"
SHELLS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)")
SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\s*[—–:-]+\s*(?P<why>\S.*?)\s*-->$")
MAX_SKIPPED = 6  # blocks no test can run (installing, the suite itself, PostgreSQL, serving): keep them few
DEFAULT_URL = "127.0.0.1:8080"  # what the README's commands use: the demo's default port
FAILED_SIGNS = (re.compile(r"Traceback \(most recent call last\)"), re.compile(r'"error":\s*\{'))


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    skip: str | None  # why it is not run, from the comment right above it

    @property
    def transcript(self) -> bool:
        """Written as a session: commands after ``$ ``, each followed by what it prints."""
        return any(ln.startswith("$ ") for ln in self.text.splitlines())


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced block of ``markdown``, with the skip reason written right above it (if any)."""
    lines, blocks, i = markdown.splitlines(), [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
            i += 1
        above = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
        skip = SKIP.match(above)
        blocks.append(Block(start + 1, lang, "\n".join(lines[start + 1:i]) + "\n", skip and skip.group("why")))
        i += 1
    return blocks


def shell_blocks() -> list[Block]:
    return [b for b in fenced_blocks(README.read_text(encoding="utf-8")) if b.lang in SHELLS]


def test_every_shell_block_is_run_or_marked_with_a_reason():
    markdown = README.read_text(encoding="utf-8")
    blocks = fenced_blocks(markdown)
    shell = [b for b in blocks if b.lang in SHELLS]
    assert len(shell) >= 5, "the README's shell blocks were not found"
    skipped = [b for b in shell if b.skip]
    assert len(skipped) <= MAX_SKIPPED, [f"README.md:{b.line}: {b.skip}" for b in skipped]
    # A marker above anything else, or one without a reason, is a mistake that would hide a block.
    lines, starts = markdown.splitlines(), {b.line for b in shell}
    for n, line in enumerate(lines):
        if line.strip().startswith("<!--") and "readme-test:" in line:
            assert SKIP.match(line.strip()), f"README.md:{n + 1}: write <!-- readme-test: skip — why -->"
            below = next(k for k in range(n + 1, len(lines)) if lines[k].strip())
            assert below + 1 in starts, f"README.md:{n + 1}: the marker stands right above a shell block"
    # Commands in a block without a language would be neither run nor marked.
    unlabelled = [b.line for b in blocks if not b.lang and re.search(r"^(\$ |orderbot |curl |pip )", b.text, re.M)]
    assert unlabelled == [], f"README.md lines {unlabelled}: label these blocks ```sh"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    """One `orderbot demo`, on its default port when that is free here (then the README runs byte for byte)."""
    tmp = tmp_path_factory.mktemp("readme")
    env = demo_env(tmp)
    port = 8080 if _free(8080) else free_port()
    try:
        running = start_demo(tmp, env, port=port)
    except AssertionError:
        if port != 8080:
            raise
        running = start_demo(tmp, env, port=free_port())  # someone took 8080 in the meantime
    yield running
    running.stop()


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_every_shell_block_of_the_readme_runs_as_written_against_the_demo(demo: Demo, tmp_path: Path):
    env = demo.env
    reader = tmp_path / "reader"  # a folder without orderbot.toml, as a newcomer's
    reader.mkdir()
    here = demo.base.removeprefix("http://")
    ran = 0
    for block in shell_blocks():
        if block.skip:
            continue
        text = block.text.replace(DEFAULT_URL, here)  # only when 8080 was taken on this machine
        if block.transcript:
            _check_transcript(block, text, env, reader)
        else:
            _check(block, _bash(text, env, reader))
        ran += 1
    assert ran >= 4
    # The orders the README names are there: the demo's own, or made by the README's commands.
    named = {no for b in shell_blocks() if not b.skip for no in re.findall(r"(?<![A-Za-z0-9])SO\d{12}(?!\d)", b.text)}
    for no in sorted(named):
        assert get(f"{demo.base}/api/v1/orders/{no}", demo.key)[0] == 200, f"{no} is in the README, not in the demo"


def test_the_lines_the_demo_prints_to_try_are_the_readmes(demo: Demo):
    printed = demo.out.lines[next(i for i, ln in enumerate(demo.out.lines) if "Talk to the bot" in ln) + 1:]
    commands = [_command(ln) for ln in printed if ln.strip().startswith(("printf", "orderbot"))]
    readme = {_command(ln) for b in shell_blocks() for ln in b.text.splitlines()}
    assert len(commands) >= 3 and [c for c in commands if c not in readme] == []


def _command(line: str) -> str:
    """A shell line without its comment, its spaces collapsed."""
    return " ".join(line.split("  #")[0].split())


def _bash(script: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _check(block: Block, done: subprocess.CompletedProcess, shown: str | None = None) -> None:
    where = f"README.md:{block.line} (```{block.lang}) exited {done.returncode}"
    printed = done.stdout + done.stderr
    assert done.returncode == 0, f"{where}\n{printed}"
    for sign in FAILED_SIGNS:
        if m := sign.search(printed):
            raise AssertionError(f"{where}, but printed …{printed[max(0, m.start() - 400):m.end() + 400]}…")
    if shown is not None:
        assert done.stdout.rstrip("\n") == shown, f"{where}: it printed\n{done.stdout}\nnot what it shows:\n{shown}"


def _check_transcript(block: Block, text: str, env: dict, cwd: Path) -> None:
    """Each ``$ `` command runs, and prints what the README shows under it."""
    command, shown = None, []
    for line in [*text.splitlines(), "$ "]:
        if line.startswith("$ "):
            if command:
                _check(block, _bash(command, env, cwd), "\n".join(shown))
            command, shown = line[2:], []
        else:
            shown.append(line)
