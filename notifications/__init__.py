"""Notifications: the triggers that write outbox rows inside the progress engine's
transaction (``ProgressEngine.add_hook``), the outbox dispatcher, the delay scheduler and
the channel limits."""
