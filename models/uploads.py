"""Ledgers uploaded in the console: kept in the database between the dry run and the import.

The file itself is stored (a ledger is a few MB), so that the import a manager confirms is
of exactly the file the dry run read, whichever process of the service gets the click.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.models import Model

MAX_BYTES = 20 * 1024 * 1024  # an .xlsx of 100,000 orders is about 5 MB


class LedgerUpload(Model):
    """One uploaded ledger, its dry run's report and, once confirmed, its import's."""

    id = fields.BigIntField(primary_key=True)
    file_name = fields.CharField(max_length=200)
    content = fields.BinaryField()
    sha256 = fields.CharField(max_length=64)
    uploaded_by = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()
    notify = fields.BooleanField(default=False)
    report = fields.JSONField(null=True)  # ledger.importer.Summary.as_dict() of the last run
    applied_at = fields.DatetimeField(null=True)
    applied_by = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "ledger_uploads"


async def keep(file_name: str, content: bytes, by: str, at: datetime, *, notify: bool) -> LedgerUpload:
    return await LedgerUpload.create(file_name=file_name[:200], content=content, uploaded_by=by, created_at=at,
                                     sha256=hashlib.sha256(content).hexdigest(), notify=notify)


async def find(upload_id: int) -> LedgerUpload | None:
    return await LedgerUpload.filter(id=upload_id).first()


async def reported(upload: LedgerUpload, report: dict[str, Any], *, applied_by: str | None = None,
                   at: datetime | None = None) -> None:
    upload.report = report
    if applied_by is not None:
        upload.applied_by, upload.applied_at = applied_by, at
    await upload.save(update_fields=["report", "applied_by", "applied_at"])


async def recent(limit: int = 10) -> list[LedgerUpload]:
    """The last uploads, without their files."""
    return await LedgerUpload.all().order_by("-id").limit(limit).only(
        "id", "file_name", "uploaded_by", "created_at", "applied_at", "applied_by", "report")
