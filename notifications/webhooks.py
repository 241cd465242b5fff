"""The engine hook that owes each subscribed webhook the changes it asked for (``models/webhooks.py``).

It runs in the change's transaction, so an event's deliveries are committed with the change
itself or not at all; a replayed event is no change, and writes nothing.
"""
from __future__ import annotations

from collections.abc import Sequence

from models.changes import Change
from models.engine import ProgressEngine
from models.outbox import write
from models.webhooks import notices, subscribed
from notifications.triggers import iso


class WebhookTriggers:
    """The hook: ``engine.add_hook(WebhookTriggers(engine))``."""

    def __init__(self, engine: ProgressEngine) -> None:
        self.engine = engine

    async def __call__(self, changes: Sequence[Change], conn) -> None:
        relevant = [c for c in changes if c.kind in ("node_entered", "exception_opened", "exception_resolved")]
        if not relevant:
            return
        hooks = await subscribed(conn)
        if not hooks:
            return
        owed = []
        for c in relevant:
            order = c.order
            if c.kind == "node_entered" and c.event is not None:
                data = {"order_no": order.order_no, "workflow": order.workflow, "node": c.event.node,
                        "previous_node": c.previous_node, "at": iso(c.at), "source": c.source, "actor": c.actor,
                        "event_id": c.event.event_id, "carrier": order.carrier, "tracking_no": order.tracking_no,
                        "eta": iso(order.eta)}
                key = f"node_entered:{order.order_no}:{c.event.event_id}"
            elif c.kind in ("exception_opened", "exception_resolved") and c.exception is not None:
                x = c.exception
                data = {"order_no": order.order_no, "exception_id": x.id, "kind": x.kind, "severity": x.severity,
                        "node": x.node, "note": x.note, "at": iso(c.at), "actor": c.actor}
                if c.kind == "exception_resolved":
                    data["resolution"] = x.resolution_note
                key = f"{c.kind}:{x.id}"
            else:
                continue
            owed += notices(hooks, c.kind, key, data, self.engine.clock(), order.order_no)
        if owed:
            await write(conn, owed)
