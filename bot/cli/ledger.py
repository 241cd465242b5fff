"""`orderbot import FILE`: an Excel or CSV ledger into orders — a dry run unless --apply (ledger/)."""
from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

import click

from bot.app import build_engine
from bot.cli.support import fail, run_with_db, settings_from
from ledger import importer, reading
from models import audit
from models.errors import EngineError
from models.schedule import utcnow


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--apply", "apply_", is_flag=True, help="Write the changes (without it: only say what would change).")
@click.option("--map", "map_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A YAML file naming columns this does not know: `header: field` (or `header: node:KEY`).")
@click.option("--workflow", default="standard", show_default=True, help="The workflow new orders follow.")
@click.option("--notify", is_flag=True, help="Tell customers, staff and webhooks of the changes, as the API would "
                                             "(without it an import tells nobody: a ledger is mostly history).")
@click.pass_context
def import_ledger(ctx: click.Context, file: Path, apply_: bool, map_file: Path | None, workflow: str,
                  notify: bool) -> None:
    """Import FILE (.xlsx, .xls, .csv in UTF-8 or GBK): new orders, changed fields, node moves.

    A dry run by default: it prints what would change and every problem as
    `row N, column C: value → why`, and writes FILE.errors.xlsx marking the bad rows.
    With --apply the good rows are written, each whole or not at all; importing the same
    file again changes nothing.
    """
    settings = settings_from(ctx)
    engine = build_engine(settings)
    for given in filter(None, (file, map_file)):
        if not given.is_file():
            fail(f"{given}: no such file")
    try:
        mapping = reading.load_map(map_file, engine.workflows)
        sheet = reading.sheet(file, engine.workflows, mapping)
    except reading.LedgerError as e:
        fail(str(e))

    async def work():
        # This process does nothing else: what is loaded stays, and collecting rarely saved a third of
        # the time (bench/README.md: import), for a few MB.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        started = time.perf_counter()
        run = importer.Importer(engine, file.name, workflow=workflow, notify=notify)
        with _progress(sheet.total, "importing" if apply_ else "reading") as step:
            summary = await run.run(sheet, apply=apply_, progress=step)
        if apply_:
            await audit.acted("cli", "ledger.import", f"file:{file.name}", None,
                              {"rows": summary.written, "errors": len(summary.bad_rows)}, at=utcnow())
        return summary, time.perf_counter() - started

    try:
        summary, took = run_with_db(settings, work)
    except EngineError as e:
        fail(e.message)
    click.echo(importer.report(summary, file.name, applied=apply_))
    if summary.bad_rows:
        target = importer.errors_path(file)
        target.write_bytes(importer.errors_workbook(sheet, summary))
        click.echo(f"the rows with problems are marked in {target}", err=True)
    if apply_:
        rate = f", {summary.rows / took:,.0f} rows/s" if took > 0 and summary.rows else ""
        click.echo(f"{summary.written} row{'s' if summary.written != 1 else ''} written in {took:.1f} s{rate}",
                   err=True)
    else:
        click.echo("a dry run: nothing was written (add --apply to write the good rows)", err=True)


class _progress:
    """A progress bar with rows/s on a terminal (rich); nothing when the output goes elsewhere."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.bar = total, label, None

    def __enter__(self):
        if sys.stderr.isatty() and not os.environ.get("CI") and self.total > 100:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]} rows/s"),
                                TimeRemainingColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("import", total=self.total, rate="-")
            self.started, self.done = time.perf_counter(), 0
        return self.step

    def step(self, n: int) -> None:
        if self.bar is None:
            return
        self.done += n
        rate = self.done / max(time.perf_counter() - self.started, 1e-6)
        self.bar.update(self.task, completed=self.done, rate=f"{rate:,.0f}")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def register(cli: click.Group) -> None:
    cli.add_command(import_ledger)
