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


async def test_a_migrated_database_has_every_index_the_models_declare(db):
    """On SQLite an altered column copies its table, and the copy once came without the orders
    table's indexes: every tracking-number look-up read the whole table."""
    from tortoise import Tortoise, connections

    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        have = set()
        for row in await conn.execute_query_dict("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"):
            cols = await conn.execute_query_dict(f"PRAGMA index_info(\"{row['name']}\")")
            have.add((row["tbl_name"], tuple(c["name"] for c in cols)))
    else:
        rows = await conn.execute_query_dict(
            "SELECT t.relname AS tbl, array_agg(a.attname ORDER BY k.n) AS cols FROM pg_index ix "
            "JOIN pg_class t ON t.oid = ix.indrelid JOIN unnest(ix.indkey) WITH ORDINALITY k(attnum, n) ON true "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "JOIN pg_namespace s ON s.oid = t.relnamespace WHERE s.nspname = current_schema() "
            "GROUP BY ix.indexrelid, t.relname")
        have = {(r["tbl"], tuple(r["cols"])) for r in rows}
    want = set()
    for model in Tortoise.apps["orderbot"].values():
        meta = model._meta
        for f in meta.fields_map.values():
            if getattr(f, "index", False) and not f.pk:
                want.add((meta.db_table, (f.source_field or f.model_field_name,)))
        for together in meta.unique_together:
            want.add((meta.db_table, tuple(meta.fields_map[n].source_field or n for n in together)))
    assert len(want) > 20
    assert sorted(want - have) == []
