"""Tortoise models and the progress engine.

The app label is ``orderbot``; ``MODEL_MODULES`` lists every module with models, and
``MIGRATIONS`` is the package of Tortoise's native migrations for them.
"""
MODEL_MODULES = [
    "models.people",
    "models.orders",
    "models.chats",
    "models.audit",
    "models.outbox",
    "models.apikeys",
    "models.requests",
    "models.devmail",
    "models.platforms",
    "models.leases",
    "models.recipients",
    "models.access",
    "models.console",
    "models.progress",
    "models.uploads",
    "models.webhooks",
]
MIGRATIONS = "models.migrations"
APP_LABEL = "orderbot"
