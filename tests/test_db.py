"""The schema: migrations cover the models, and the health check reaches the database."""
from tortoise.context import require_context
from tortoise.migrations.autodetector import MigrationAutodetector

from bot.db import pending_migrations, tortoise_config


async def test_migrations_describe_the_models_exactly(settings, db):
    """A model changed without `tortoise makemigrations` (see README, Development) fails here."""
    apps = tortoise_config(settings.database.url)["apps"]
    writers = await MigrationAutodetector(require_context().apps, apps).changes()
    assert writers == [], "models changed but no migration was written: " + ", ".join(w.name for w in writers)


async def test_a_migrated_database_has_nothing_pending(db):
    assert await pending_migrations() == []
