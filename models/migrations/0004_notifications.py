from orjson import loads
from tortoise import migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0003_channels')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MessageConsent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('address', fields.CharField(max_length=254)),
                ('template_id', fields.CharField(max_length=128)),
                ('remaining', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'message_consents', 'app': 'orderbot', 'unique_together': (('channel', 'address', 'template_id'),), 'pk_attr': 'id', 'table_description': 'Sends a person allowed us on a channel: WeChat subscribe messages, one per consent given.'},
            bases=['Model'],
        ),
        # The outbox becomes unique on (event, recipient). SQLite cannot drop the old
        # table-level UNIQUE constraint, so the table is made anew; before this release it
        # held only staff notices that no dispatcher had sent yet.
        ops.DeleteModel(name='Outbox'),
        ops.CreateModel(
            name='Outbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_key', fields.CharField(max_length=200)),
                ('recipient', fields.CharField(default='', max_length=280)),
                ('audience', fields.CharField(default='staff', max_length=16)),
                ('channel', fields.CharField(max_length=16)),
                ('address', fields.CharField(max_length=254)),
                ('kind', fields.CharField(max_length=32)),
                ('order_no', fields.CharField(null=True, db_index=True, max_length=32)),
                ('payload', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('locale', fields.CharField(default='zh', max_length=10)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lease_owner', fields.CharField(null=True, max_length=64)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_via', fields.CharField(null=True, max_length=280)),
                ('digest_of', fields.BigIntField(null=True)),
            ],
            options={'table': 'outbox', 'app': 'orderbot', 'unique_together': (('event_key', 'recipient'),),
                     'indexes': [Index(fields=['status', 'next_attempt_at']),
                                 Index(fields=['recipient', 'order_no', 'status'])],
                     'pk_attr': 'id',
                     'table_description': 'A message owed to one recipient, and what became of it (sent, retry at, failed why).'},
            bases=['Model'],
        ),
    ]
