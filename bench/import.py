"""Benchmark: `orderbot import LEDGER --apply` of a generated 100,000-row ledger on SQLite.

Writes a ledger shaped like a real one (a title row, headers, 订单号 / 客户名称 / 手机 / 交期 /
当前状态 / 付款日期 / 出库日期, mixed date formats) as .xlsx with openpyxl, then runs the
import in a child process exactly as a user would, against a fresh SQLite database, and
prints rows/s, the seconds it took and the child's peak resident memory. Targets: under
60 s and under 300 MB for 100,000 rows. A second run of the same file (0 changes) is timed too.

    python bench/import.py
    python bench/import.py -n 10000
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ["审核", "付款", "备货", "生产中", "质检", "出库", "运输中", "已签收"]


def write_ledger(path: Path, n: int) -> None:
    rng = random.Random(7)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    sheet.append(["订单台账（基准测试）"])
    sheet.append(["订单号", "客户名称", "手机", "下单日期", "交期", "当前状态", "业务员", "付款日期", "出库日期"])
    start = date(2026, 6, 1)
    for i in range(n):
        placed = start + timedelta(days=rng.randrange(150))
        status = rng.choice(STATUSES)
        paid = placed + timedelta(days=2) if STATUSES.index(status) >= 1 else None
        out = placed + timedelta(days=9) if STATUSES.index(status) >= 5 else None
        shown = [placed.isoformat(), placed.strftime("%Y/%m/%d"), f"{placed.month}月{placed.day}日"][i % 3]
        sheet.append([f"SO2026{i:08d}", f"客户{i % 20000}", 13800000000 + i, shown,
                      (placed + timedelta(days=30)).isoformat(), status, f"S{i % 20:03d}",
                      paid.isoformat() if paid else None, out.isoformat() if out else None])
    book.save(path)


def run(config: Path, ledger: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env.update(ORDERBOT_CONFIG=str(config), PYTHONPATH=str(ROOT), CI="1")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "import", str(ledger), "--apply"], env=env,
                          capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"import failed: {done.stderr[-2000:]}")
    return took, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="rows in the ledger")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orderbot-bench-import-"))
    try:
        ledger = folder / "ledger.xlsx"
        started = time.perf_counter()
        write_ledger(ledger, args.n)
        print(f"ledger of {args.n:,} rows written in {time.perf_counter() - started:.1f} s "
              f"({ledger.stat().st_size / 2**20:.1f} MB)")
        config = folder / "orderbot.toml"
        config.write_text(f'[database]\nurl = "sqlite://{folder / "bench.db"}"\n[security]\n'
                          f'secret_key = "bench-secret-key-0123456789"\n[server]\ntimezone = "Asia/Shanghai"\n')
        took, out = run(config, ledger)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"import --apply: {took:.1f} s, {args.n / took:,.0f} rows/s, peak resident {peak:,.0f} MB "
              f"(targets: 60 s, 300 MB)")
        print("  " + "\n  ".join(line for line in out.splitlines()[:6]))
        again, out = run(config, ledger)
        print(f"the same file again: {again:.1f} s ({'0 changes' if 'new orders:      0' in out else 'CHANGES?'})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
