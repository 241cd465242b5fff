"""`orderbot outbox list` and `orderbot outbox replay`: what staff see of undelivered notices."""
from __future__ import annotations

from datetime import timedelta

from models.outbox import Outbox
from models.schedule import utcnow


async def _row(key: str, status: str, **extra) -> Outbox:
    return await Outbox.create(event_key=key, recipient=f"customer:{len(key)}", audience="customer", channel="telegram",
                               address="1001", kind="node_entered", order_no="SO202611240001", status=status,
                               attempts=extra.pop("attempts", 0), next_attempt_at=utcnow() + timedelta(hours=1),
                               **extra)


async def test_list_shows_reasons_and_failed_narrows_it(cli, db):
    await _row("node:a", "sent", sent_via="telegram:1001", sent_at=utcnow())
    await _row("node:bb", "undeliverable", last_error="telegram: blocked by the user; email: no address")
    await _row("node:ccc", "failed", attempts=8, last_error="SMTP unavailable: ConnectionRefusedError")
    everything = cli("outbox", "list")
    assert everything.code == 0 and everything.out.count("SO202611240001") == 3
    assert "telegram:1001" in everything.out and "blocked by the user" in everything.out
    failed = cli("outbox", "list", "--failed")
    assert "undeliverable" in failed.out and "failed" in failed.out and "telegram:1001" not in failed.out
    assert "SMTP unavailable" in failed.out
    assert cli("outbox", "list", "--order", "SO209999999999").out.strip() == "no notices"


async def test_replay_sends_failed_rows_again_but_never_a_sent_one(cli, db):
    sent = await _row("node:a", "sent", sent_via="telegram:1001", sent_at=utcnow())
    gone = await _row("node:bb", "undeliverable", last_error="nobody")
    dead = await _row("node:ccc", "failed", attempts=8, last_error="SMTP down")

    refused = cli("outbox", "replay", str(sent.id), str(gone.id))
    assert refused.code == 1 and f"notice {sent.id} is sent" in refused.err
    assert (await Outbox.get(id=gone.id)).status == "undeliverable", "a refused replay changes nothing"
    assert cli("outbox", "replay", "999999").err.strip().endswith("no notice 999999")
    assert cli("outbox", "replay").code == 2, "IDs or --failed"

    done = cli("outbox", "replay", "--failed")
    assert done.code == 0 and "2 notice(s)" in done.out
    for row_id in (gone.id, dead.id):
        row = await Outbox.get(id=row_id)
        assert (row.status, row.attempts) == ("pending", 0) and row.next_attempt_at <= utcnow()
    assert (await Outbox.get(id=sent.id)).status == "sent"


async def test_list_names_the_person_a_notice_is_for(cli, db):
    from models.people import add_staff

    member = await add_staff("王芳", "sales", "S002", "sales", {}, None)
    await Outbox.create(event_key="node:x", recipient=f"staff:{member.id}", audience="staff", channel="telegram",
                        address="2002", kind="node_entered", order_no="SO202611240001", status="pending",
                        next_attempt_at=utcnow())
    assert f"王芳 (staff:{member.id})" in cli("outbox", "list").out
