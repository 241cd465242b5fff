from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0010_inbox')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Order',
            name='node_entered_at',
            field=fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Order',
            name='placed_at',
            field=fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
        ),
    ]
