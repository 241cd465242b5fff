from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0004_notifications')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='late_noticed_for',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Order',
            name='overdue_noticed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
