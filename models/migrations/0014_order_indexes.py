"""The orders table's own indexes, again.

0011_order_list altered two columns, and on SQLite Tortoise alters a column by copying the
table, which left the copy without the indexes of sales_owner, promised_date, current_node,
node_entered_at, tracking_no and placed_at: every look-up by tracking number and every
console filter read the whole table. Same names as Tortoise gives them, so where they are
there (PostgreSQL altered in place) nothing is made twice.
"""
from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = [("idx_orders_sales_o_a51b19", "sales_owner"), ("idx_orders_promise_79bf8b", "promised_date"),
           ("idx_orders_current_7e4a1b", "current_node"), ("idx_orders_node_en_bb66d2", "node_entered_at"),
           ("idx_orders_trackin_b9ede1", "tracking_no"), ("idx_orders_placed__857d29", "placed_at")]


class Migration(migrations.Migration):
    dependencies = [('orderbot', '0013_webhooks')]

    initial = False

    operations = [
        ops.RunSQL([f'CREATE INDEX IF NOT EXISTS "{name}" ON "orders" ("{column}")' for name, column in INDEXES],
                   reverse_sql=[]),
    ]
