"""Handlers the conversation router dispatches to, one module per capability
(tracking, verification, subscriptions, customer requests, staff commands)."""
