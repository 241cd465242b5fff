"""Outbox rows as messages, in the recipient's language.

Rows hold facts (order number, node key, times), not sentences: the text is made when
the row is sent, so a notice reads in the words of the workflows file and the catalog of
that moment. Several rows of one order for one person become one digest message; several
staff notices of one kind on many orders become one message listing the orders, at most
``LINES`` of them and "+N".
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.conversation.cards import day, eta_day, when
from bot.conversation.durations import hours, span
from bot.conversation.texts import t
from models.engine import ProgressEngine
from models.messages import Button, Reply
from models.outbox import CONSOLE_LINK, EMAIL_ANSWER, VERIFICATION_CODE

LINES = 10  # orders listed in a digest across orders or a daily summary; the rest are counted
HANDOVER = {"request_claimed": "handover.claimed", "request_reply": "handover.reply",
            "request_closed": "handover.closed"}  # a request's notices to the customer's chat, by their text
ACK_BUTTONS = 3  # an escalation digest's buttons: the first orders' acknowledgements


class Renderer:
    """Turns an outbox row's kind and payload into a Reply, its times in the reader's zone ``tz``."""

    def __init__(self, engine: ProgressEngine, tz: ZoneInfo | None = None) -> None:
        self.engine, self.tz = engine, tz or engine.tz
        self._kinds: dict[str, Callable[[dict[str, Any], str, str], list[str]]] = {
            "node_entered": self._node, "eta_changed": self._eta_changed, "late": self._late,
            "overdue": self._overdue, "exception_opened": self._exception, "exception_resolved": self._exception,
            "escalated": self._escalated, "customer_request": self._request,
            "verification_locked": self._locked, "verification_stopped": self._stopped,
            "daily_summary": self._summary, "request_message": self._from_customer,
            **{kind: self._handover(key) for kind, key in HANDOVER.items()},
        }
        self._lines: dict[str, Callable[[dict[str, Any], str], str]] = {
            "late": self._late_line, "overdue": self._overdue_line, "escalated": self._escalated_line,
        }

    def reply(self, kind: str, payload: dict[str, Any], locale: str, audience: str = "customer") -> Reply:
        if kind == EMAIL_ANSWER:  # prepared already; the e-mail channel sends the payload as it is
            return Reply(payload.get("text", ""), subject=payload.get("subject"))
        if kind == VERIFICATION_CODE:
            return Reply(t("verify.mail_body", locale, code=payload["code"], order_no=payload["order_no"]),
                         subject=t("verify.mail_subject", locale, code=payload["code"]))
        if kind == CONSOLE_LINK:
            return Reply(t("console.mail_body", locale, name=payload["name"], url=payload["url"]),
                         subject=t("console.mail_subject", locale))
        lines = self._kinds[kind](payload, locale, audience)
        buttons: tuple[Button, ...] = ()
        if kind in ("exception_opened", "escalated") and payload.get("order_no"):
            buttons = (_ack(payload, locale),)
        return Reply("\n".join(line for line in lines if line), buttons=buttons)

    def digest(self, rows: Sequence[tuple[str, dict[str, Any]]], order_no: str, locale: str,
               audience: str) -> Reply:
        """Several notices on one order as one message, under a line that counts them."""
        if len(rows) == 1:
            kind, payload = rows[0]
            return self.reply(kind, payload, locale, audience)
        body = [self.reply(kind, payload, locale, audience) for kind, payload in rows]
        text = "\n\n".join([t("notice.digest", locale, order_no=order_no, n=len(rows))] + [r.text for r in body])
        buttons = tuple(dict.fromkeys(b for r in body for b in r.buttons))
        return Reply(text, buttons=buttons)

    def roundup(self, kind: str, payloads: Sequence[dict[str, Any]], locale: str, audience: str) -> Reply:
        """Staff notices of one kind on several orders as one message: how many, then one line an order."""
        if len(payloads) == 1:
            return self.reply(kind, payloads[0], locale, audience)
        lines = [t(f"notice.roundup.{kind}", locale, n=len(payloads))]
        lines += self._listed([self._lines[kind](p, locale) for p in payloads], len(payloads), locale)
        buttons: tuple[Button, ...] = ()
        if kind == "escalated":
            orders = list(dict.fromkeys(p["order_no"] for p in payloads))[:ACK_BUTTONS]
            buttons = tuple(Button(t("notice.ack_order", locale, order_no=no), f"/ack {no}") for no in orders)
        return Reply("\n".join(lines), buttons=buttons)

    @staticmethod
    def _listed(lines: list[str], total: int, locale: str) -> list[str]:
        shown = lines[:LINES]
        return shown + ([t("notice.more", locale, n=total - len(shown))] if total > len(shown) else [])

    # ------------------------------------------------------------ pieces
    def _node_name(self, payload: dict[str, Any], locale: str, key: str | None = None) -> str:
        wf = self.engine.workflows.get(payload.get("workflow", ""))
        key = key or payload.get("node", "")
        return wf.node(key).name(locale) if wf and wf.has(key) else key

    def _time(self, value: str | None, locale: str) -> str:
        return when(datetime.fromisoformat(value), locale, self.tz) if value else "—"

    def _day(self, value: str | None, locale: str) -> str:
        """An ETA is a day people plan with, not a minute."""
        return eta_day(datetime.fromisoformat(value), None, locale, self.tz, self.engine.clock()) if value else "—"

    def _note(self, payload: dict[str, Any], locale: str, audience: str) -> str:
        """A staff note is internal: staff read it, a group chat does not (the group view)."""
        if audience != "staff" or not payload.get("note"):
            return ""
        return t("notice.note", locale, note=payload["note"])

    def _node(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        key = "notice.node" if audience == "customer" else "notice.node.staff"
        lines = [t(key, locale, order_no=p["order_no"], node=self._node_name(p, locale))]
        if p.get("tracking_no"):
            lines.append(t("notice.shipment", locale, carrier=p.get("carrier") or "", tracking_no=p["tracking_no"]))
        if p.get("eta"):
            lines.append(t("notice.eta", locale, eta=self._day(p["eta"], locale)))
        return lines

    def _eta_changed(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        return [t("notice.eta_changed", locale, order_no=p["order_no"], previous=self._day(p.get("previous"), locale),
                  eta=self._day(p.get("eta"), locale))]

    def _late(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        key = "notice.late" if audience == "customer" else "notice.late.staff"
        promised = day(date.fromisoformat(p["promised_date"]), locale)
        lines = [t(key, locale, order_no=p["order_no"], promised=promised, node=self._node_name(p, locale))]
        if p.get("eta"):
            lines.append(t("notice.eta", locale, eta=self._day(p["eta"], locale)))
        return lines

    def _overdue(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        return [t("notice.overdue", locale, order_no=p["order_no"], node=self._node_name(p, locale),
                  stayed=hours(p["hours"], locale), limit=hours(p["limit"], locale))]

    def _late_line(self, p: dict[str, Any], locale: str) -> str:
        return t("notice.roundup.late.line", locale, order_no=p["order_no"], node=self._node_name(p, locale),
                 promised=day(date.fromisoformat(p["promised_date"]), locale))

    def _overdue_line(self, p: dict[str, Any], locale: str) -> str:
        return t("notice.roundup.overdue.line", locale, order_no=p["order_no"], node=self._node_name(p, locale),
                 stayed=hours(p["hours"], locale), limit=hours(p["limit"], locale))

    def _escalated_line(self, p: dict[str, Any], locale: str) -> str:
        return t("notice.roundup.escalated.line", locale, order_no=p["order_no"], node=self._node_name(p, locale),
                 kind=self._kind_name(p, locale), waited=span(timedelta(minutes=p["minutes"]), locale))

    def _summary(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        """The day's late orders and open exceptions in a staff member's scope."""
        lines = [t("notice.summary", locale, date=day(date.fromisoformat(p["date"]), locale))]
        if p["late_total"]:
            lines.append(t("notice.summary.late", locale, n=p["late_total"]))
            lines += self._listed([self._late_line(o, locale) for o in p["late"]], p["late_total"], locale)
        if p["exceptions_total"]:
            now = self.engine.clock()
            lines.append(t("notice.summary.exceptions", locale, n=p["exceptions_total"]))
            lines += self._listed([t("notice.summary.exception", locale, order_no=e["order_no"],
                                     node=self._node_name(e, locale), kind=self._kind_name(e, locale),
                                     age=span(now - datetime.fromisoformat(e["opened_at"]), locale))
                                   for e in p["exceptions"]], p["exceptions_total"], locale)
        return lines

    def _kind_name(self, p: dict[str, Any], locale: str) -> str:
        zh, en = self.engine.workflows.exception_kinds.get(p["kind"], (p["kind"], p["kind"]))
        return zh if locale.startswith("zh") else en

    def _exception(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        key = "notice.exception_opened" if p.get("resolved") is None else "notice.exception_resolved"
        return [t(key, locale, order_no=p["order_no"], node=self._node_name(p, locale),
                  kind=self._kind_name(p, locale)), self._note(p, locale, audience)]

    def _escalated(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        return [t("notice.escalated", locale, order_no=p["order_no"], node=self._node_name(p, locale),
                  kind=self._kind_name(p, locale), waited=span(timedelta(minutes=p["minutes"]), locale)),
                self._note(p, locale, audience)]

    def _request(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        return [t("notice.customer_request", locale, customer=p.get("customer", ""), order_no=p["order_no"],
                  kind=t(f"request.kind.{p['kind']}", locale), text=p.get("text", ""))]

    @staticmethod
    def _handover(key: str) -> Callable[[dict[str, Any], str, str], list[str]]:
        """To the customer: a person took the conversation, what they wrote, that it is the bot's again."""
        return lambda p, locale, audience: [t(key, locale, staff=p["staff"], order_no=p["order_no"],
                                              text=p.get("text", ""))]

    def _from_customer(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        return [t("notice.request_message", locale, customer=p.get("customer", ""), order_no=p["order_no"],
                  text=p["text"])]

    def _stopped(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        return [t("notice.verification_stopped", locale, channel=p["channel"], order_no=p["order_no"],
                  tries=p["tries"])]

    def _locked(self, p: dict[str, Any], locale: str, audience: str) -> list[str]:
        return [t("notice.verification_locked", locale, channel=p["channel"], order_no=p["order_no"],
                  tries=p["tries"], wait=span(timedelta(minutes=p["minutes"]), locale))]


def _ack(payload: dict[str, Any], locale: str) -> Button:
    """The Ack button of an exception's push: it names that exception, so it acts on it alone."""
    if payload.get("exception_id") is None:
        return Button(t("notice.ack", locale), f"/ack {payload['order_no']}")
    return Button(f"{t('notice.ack', locale)} #{payload['exception_id']}",
                  f"/ack {payload['order_no']} #{payload['exception_id']}")
