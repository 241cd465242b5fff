"""Import a ledger (managers and admins): upload, read the dry run, confirm, read what was done.

The very importer `orderbot import` runs (``ledger/``): the upload is kept in the database
(``models/uploads.py``), its dry run reported by row and column with the ledger's bad rows
marked in a workbook to download, and only a confirmed upload is applied, planned afresh
against the orders as they stand then. Uploads are read as a stream, so a file larger than
``MAX_BYTES`` is refused without being held; every import is an ``action_log`` row.
"""
from __future__ import annotations

import hmac
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web

from bot.console.common import (actor, console, csrf_ok, csrf_token, lang, not_found, now, plain, render,
                                signed_in, signin_redirect, staff_action, staff_page)
from bot.console.words import add
from ledger import importer, reading
from models import audit, uploads
from models.errors import EngineError
from models.people import Role

ROLES = (Role.ADMIN, Role.MANAGER)
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")

add({
    "imp.title": {"zh": "导入订单台账", "en": "Import a ledger"},
    "imp.hint": {"zh": "上传 Excel（.xlsx、.xls）或 CSV 台账。先预览将要做的改动和每一行的问题，确认后才写入；"
                       "同一个文件导入两次不会重复。",
                 "en": "Upload an Excel (.xlsx, .xls) or CSV ledger. You first see what would change and every "
                       "problem by row; nothing is written until you confirm. Importing the same file twice "
                       "changes nothing."},
    "imp.file": {"zh": "台账文件", "en": "Ledger file"},
    "imp.notify": {"zh": "通知客户和 Webhook（默认不通知：台账多是历史）",
                   "en": "Tell customers and webhooks (off by default: a ledger is mostly history)"},
    "imp.preview": {"zh": "上传并预览", "en": "Upload and preview"},
    "imp.recent": {"zh": "最近的导入", "en": "Recent imports"},
    "imp.none": {"zh": "还没有导入过。", "en": "Nothing imported yet."},
    "imp.dry": {"zh": "预览：尚未写入任何数据", "en": "Preview: nothing has been written yet"},
    "imp.applied": {"zh": "已导入", "en": "Imported"},
    "imp.by": {"zh": "{who} 于 {at}", "en": "by {who} at {at}"},
    "imp.rows": {"zh": "有订单的行", "en": "Rows with orders"},
    "imp.new": {"zh": "新订单", "en": "New orders"},
    "imp.updated": {"zh": "更新的订单", "en": "Updated orders"},
    "imp.moves": {"zh": "环节推进", "en": "Node moves"},
    "imp.unchanged": {"zh": "无变化", "en": "Unchanged"},
    "imp.bad": {"zh": "有问题的行（跳过）", "en": "Rows with problems (skipped)"},
    "imp.written": {"zh": "已写入的行", "en": "Rows written"},
    "imp.skipped": {"zh": "跳过 {empty} 个空行", "en": "Skipped {empty} empty row(s)"},
    "imp.totals": {"zh": "、合计行 {rows}", "en": ", totals row(s) {rows}"},
    "imp.unread": {"zh": "未识别的列：{cols}", "en": "Columns not read: {cols}"},
    "imp.changes": {"zh": "将做的改动", "en": "Changes"},
    "imp.changes_done": {"zh": "已做的改动", "en": "Changes made"},
    "imp.more": {"zh": "…另外还有 {n} 行", "en": "… and {n} more rows"},
    "imp.notes": {"zh": "按推测处理", "en": "Assumed"},
    "imp.problems": {"zh": "问题", "en": "Problems"},
    "imp.row": {"zh": "行", "en": "Row"},
    "imp.column": {"zh": "列", "en": "Column"},
    "imp.value": {"zh": "内容", "en": "Value"},
    "imp.why": {"zh": "原因", "en": "Why"},
    "imp.errors": {"zh": "下载标出问题的台账（.xlsx）", "en": "Download the ledger with its problems marked (.xlsx)"},
    "imp.apply": {"zh": "确认导入 {n} 行", "en": "Import {n} rows"},
    "imp.nothing": {"zh": "没有需要写入的改动。", "en": "Nothing to write."},
    "imp.again": {"zh": "导入另一个文件", "en": "Import another file"},
    "imp.err.file": {"zh": "请选择 .xlsx、.xls 或 .csv 文件。", "en": "Choose an .xlsx, .xls or .csv file."},
    "imp.err.big": {"zh": "文件超过 20 MB，请拆分后再上传。", "en": "The file is over 20 MB: split it, then upload."},
    "imp.err.read": {"zh": "无法读取这个文件：{why}", "en": "This file cannot be read: {why}"},
    "imp.err.done": {"zh": "这个文件已经导入过了。", "en": "This file has been imported already."},
})

# The importer's reasons (English, as the CLI prints them) in Chinese, for the page.
REASONS_ZH = [
    (re.compile(r"^not a phone number$"), "不是电话号码"),
    (re.compile(r"^not a date that exists$"), "日期不存在"),
    (re.compile(r"^not a date( \(.*\))?$"), "不是日期（请写 2026-12-01、2026/12/1 或 12月1日）"),
    (re.compile(r"^not an amount$"), "不是金额"),
    (re.compile(r"^below zero$"), "不能小于零"),
    (re.compile(r"^no order number$"), "缺少订单号"),
    (re.compile(r"^not an order number.*$"), "不是订单号"),
    (re.compile(r"^the same order as row (\d+)$"), r"与第 \1 行是同一订单"),
    (re.compile(r"^no node of the workflow has this name \((.*)\)$"), r"流程中没有这个环节（\1）"),
    (re.compile(r"^a new order needs its customer's name$"), "新订单需要客户名称"),
    (re.compile(r"^not an e-mail address$"), "不是邮箱地址"),
    (re.compile(r"^in the future.*$"), "日期在未来"),
    (re.compile(r"^order (\S+) exists with different data$"), r"订单 \1 已存在且内容不同"),
]


def reason(why: str, language: str) -> str:
    if language == "zh":
        for pattern, zh in REASONS_ZH:
            if pattern.match(why):
                return pattern.sub(zh, why)
    return why


@staff_page(roles=ROLES)
async def page(request: web.Request) -> web.StreamResponse:
    return await _form(request)


async def _form(request: web.Request, error: str | None = None, status: int = 200, **values: str) -> web.Response:
    return render(request, "import.html", {"recent": await uploads.recent(), "error": error, "values": values,
                                           "tz": console(request).tz}, status=status)


async def upload(request: web.Request) -> web.StreamResponse:
    """The form's post, read as a stream: the CSRF field first, then the file (no 1 MB body cap)."""
    member = await signed_in(request)
    if member is None:
        return signin_redirect(request)
    if member.role not in ROLES:
        return plain(request, "forbidden", "forbidden.role", 403)
    if request.content_type != "multipart/form-data":
        if not await csrf_ok(request):
            return plain(request, "forbidden", "forbidden.csrf", 403)
        return await _form(request, "imp.err.file", 400)
    reader = await request.multipart()
    given, name, content, notify = None, "", b"", False
    async for part in reader:
        if part.name == "csrf":
            given = (await part.read(decode=True)).decode("utf-8", "replace")
        elif part.name == "notify":
            notify = (await part.read(decode=True)) == b"1"
        elif part.name == "file":
            if given is None or not _csrf(request, given):
                return plain(request, "forbidden", "forbidden.csrf", 403)
            name = Path(unquote(part.filename or "")).name  # some clients send it percent-encoded
            chunks, size = [], 0
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > uploads.MAX_BYTES:
                    return await _form(request, "imp.err.big", 413)
                chunks.append(chunk)
            content = b"".join(chunks)
    if given is None or not _csrf(request, given):
        return plain(request, "forbidden", "forbidden.csrf", 403)
    if not content or Path(name).suffix.lower() not in SUFFIXES:
        return await _form(request, "imp.err.file", 400)
    kept = await uploads.keep(name, content, actor(request), now(request), notify=notify)
    with _file(kept) as path:
        try:
            summary = await _run(request, path, kept, apply=False)
        except (reading.LedgerError, EngineError) as e:
            await kept.delete()
            return await _form(request, "imp.err.read", 400, why=str(getattr(e, "message", e)))
    await uploads.reported(kept, summary.as_dict())
    raise web.HTTPSeeOther(f"/console/import/{kept.id}")


def _csrf(request: web.Request, given: str) -> bool:
    return hmac.compare_digest(given, csrf_token(console(request).secret_key, request["session_id"]))


@contextmanager
def _file(kept: uploads.LedgerUpload) -> Iterator[Path]:
    """The upload as a file of its own kind (the readers go by the suffix), removed afterwards."""
    fd, name = tempfile.mkstemp(suffix=Path(kept.file_name).suffix.lower(), prefix="orderbot-ledger-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(kept.content)
        yield Path(name)
    finally:
        os.unlink(name)


async def _run(request: web.Request, path: Path, kept: uploads.LedgerUpload, *, apply: bool) -> importer.Summary:
    engine = console(request).engine
    sheet = reading.sheet(path, engine.workflows)
    run = importer.Importer(engine, kept.file_name, actor=actor(request), notify=kept.notify)
    return await run.run(sheet, apply=apply)


async def _upload(request: web.Request) -> uploads.LedgerUpload | None:
    """The upload the path names, once its dry run is reported; None for any other."""
    raw = request.match_info["upload_id"]
    kept = await uploads.find(int(raw)) if raw.isdigit() and len(raw) < 19 else None
    return kept if kept is not None and kept.report is not None else None


@staff_page(roles=ROLES)
async def report(request: web.Request) -> web.StreamResponse:
    kept = await _upload(request)
    if kept is None:
        return not_found(request)
    summary = importer.Summary.from_dict(kept.report)
    language = lang(request)
    return render(request, "import_report.html", {
        "u": kept, "s": summary, "tz": console(request).tz,
        "problems": [(p, reason(p.why, language)) for p in summary.problems[:500]],
    })


@staff_page(roles=ROLES)
async def errors(request: web.Request) -> web.StreamResponse:
    kept = await _upload(request)
    if kept is None:
        return not_found(request)
    summary = importer.Summary.from_dict(kept.report)
    engine = console(request).engine
    with _file(kept) as path:
        body = importer.errors_workbook(reading.sheet(path, engine.workflows), summary)
    name = Path(kept.file_name).stem + ".errors.xlsx"
    return web.Response(body=body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@staff_action(roles=ROLES)
async def apply(request: web.Request) -> web.StreamResponse:
    kept = await _upload(request)
    if kept is None:
        return not_found(request)
    if kept.applied_at is not None:
        return plain(request, "imp.title", "imp.err.done", 409)
    with _file(kept) as path:
        try:
            summary = await _run(request, path, kept, apply=True)
        except (reading.LedgerError, EngineError) as e:
            return await _form(request, "imp.err.read", 400, why=str(getattr(e, "message", e)))
    await uploads.reported(kept, summary.as_dict(), applied_by=actor(request), at=now(request))
    await audit.acted(actor(request), "ledger.import", f"file:{kept.file_name}", None,
                      {"upload": kept.id, "rows": summary.written, "errors": len(summary.bad_rows)}, at=now(request))
    raise web.HTTPSeeOther(f"/console/import/{kept.id}")


def routes() -> list[web.RouteDef]:
    return [web.get("/console/import", page), web.post("/console/import", upload),
            web.get("/console/import/{upload_id}", report),
            web.get("/console/import/{upload_id}/errors.xlsx", errors),
            web.post("/console/import/{upload_id}/apply", apply)]
