"""A real `orderbot demo` in a subprocess, as a newcomer starts it, and the `orderbot` commands beside it."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.kit.base import ROOT, free_port

START_WITHIN = 30.0


class Lines:
    """Collects a process's stdout lines on a thread, so waiting for one never blocks for good."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True).start()

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "".join(self.lines))


def get(url: str, key: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def demo_env(tmp: Path) -> dict[str, str]:
    """A newcomer's shell: no ORDERBOT_* variables, this checkout's code, ``tmp`` as the temporary folder.

    The temporary folder is where a demo keeps its files and where `orderbot ...` looks for running
    demos, so each test sees only the demos it started.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env["TMPDIR"] = str(tmp)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # where `orderbot` is
    return env


@dataclass
class Demo:
    proc: subprocess.Popen
    out: Lines
    base: str
    key: str
    config: Path
    stderr: Path
    env: dict[str, str]  # the shell it was started from, for `orderbot ...` beside it

    def stop(self) -> int:
        """Stop it as Ctrl+C's sibling SIGTERM does; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start_demo(tmp: Path, env: dict[str, str], *args: str, port: int | None = None) -> Demo:
    """`orderbot demo --port PORT ARGS` from ``tmp``; returns once it answers and has printed its key."""
    port = port or free_port()
    stderr = tmp / f"demo-{port}.stderr"
    proc = subprocess.Popen([sys.executable, "-m", "bot", "demo", "--port", str(port), *args], cwd=tmp, env=env,
                            stdout=subprocess.PIPE, stderr=stderr.open("w"), text=True)
    out, base, started = Lines(proc.stdout), f"http://127.0.0.1:{port}", time.monotonic()
    try:
        while True:
            assert proc.poll() is None, stderr.read_text()
            assert time.monotonic() - started < START_WITHIN, "no /healthz answer within 30 s"
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        key = out.wait_for(r"API key: (ob_\S+)", START_WITHIN).group(1)  # printed once seeding is done
        config = Path(out.wait_for(r"Config: +(\S+)", 5).group(1))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return Demo(proc, out, base, key, config, stderr, env)
