from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0011_order_list')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ProgressLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('orderbot.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='progress_links', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('made_for', fields.CharField(max_length=32)),
                ('opened', fields.IntField(default=0)),
                ('last_opened_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'progress_links', 'app': 'orderbot', 'indexes': [Index(fields=['order_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "One link to one order's progress page."},
            bases=['Model'],
        ),
    ]
