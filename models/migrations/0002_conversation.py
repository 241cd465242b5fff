from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerRequest',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('orderbot.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='requests', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('text', fields.TextField(unique=False)),
                ('channel', fields.CharField(max_length=16)),
                ('address', fields.CharField(max_length=254)),
                ('assigned_to', fields.CharField(null=True, max_length=32)),
                ('status', fields.CharField(default='open', db_index=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('handled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('handled_by', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'customer_requests', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': "A customer's request, recorded against the order and handed to the person who owns it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DevMail',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('to_address', fields.CharField(db_index=True, max_length=254)),
                ('from_address', fields.CharField(max_length=254)),
                ('subject', fields.CharField(max_length=300)),
                ('text', fields.TextField(unique=False)),
                ('headers', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'dev_mailbox', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': 'A mail that would have been sent, kept for `orderbot mailbox` to show.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateCounter',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=254)),
                ('window_start', fields.BigIntField()),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'rate_counters', 'app': 'orderbot', 'unique_together': (('key', 'window_start'),), 'pk_attr': 'id', 'table_description': 'Hits of one rate-limit key in one time window, shared by every process.'},
            bases=['Model'],
        ),
    ]
