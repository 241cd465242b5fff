"""One process at a time: named leases in the database (a row with owner and until).

Taken with one conditional UPDATE, so it works the same on SQLite and PostgreSQL and
across machines; a process that dies simply lets its lease run out.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.models import Model

from models.schedule import utcnow


class Lease(Model):
    """A named job that one process at a time may do (refresh a token, scan for late orders)."""

    name = fields.CharField(max_length=64, primary_key=True)
    owner = fields.CharField(max_length=64, null=True)
    until = fields.DatetimeField(null=True)

    class Meta:
        table = "leases"


OWNER = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def take(name: str, seconds: float, owner: str = OWNER) -> bool:
    """Hold ``name`` for ``seconds`` unless someone else holds it; renewing one's own is fine."""
    now = utcnow()
    free = Q(until__isnull=True) | Q(until__lt=now) | Q(owner=owner)
    if await Lease.filter(Q(name=name) & free).update(owner=owner, until=now + timedelta(seconds=seconds)):
        return True
    try:
        await Lease.create(name=name, owner=owner, until=now + timedelta(seconds=seconds))
        return True
    except IntegrityError:
        return False


async def give_back(name: str, owner: str = OWNER) -> None:
    await Lease.filter(name=name, owner=owner).update(owner=None, until=None)
