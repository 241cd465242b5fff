"""Notifications: the triggers that write outbox rows inside the progress engine's
transaction (``ProgressEngine.add_hook``), the scanner for what time alone brings about
(late orders, nodes over their SLA, unacknowledged exceptions), and the outbox sender,
which reaches channels only through ``adapters.base``."""
