from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0012_progress')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('url', fields.CharField(max_length=2000)),
                ('events', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('secret', fields.CharField(max_length=100)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=128)),
                ('disabled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('disabled_why', fields.CharField(null=True, max_length=500)),
            ],
            options={'table': 'webhooks', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': 'A URL told of the events it asked for.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookAttempt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('outbox_id', fields.BigIntField(db_index=True)),
                ('webhook_id', fields.BigIntField(db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status_code', fields.IntField(null=True)),
                ('error', fields.CharField(null=True, max_length=500)),
                ('ms', fields.IntField()),
            ],
            options={'table': 'webhook_attempts', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': 'One try of one delivery: when, what the receiver answered (or why nothing), how long it took.'},
            bases=['Model'],
        ),
    ]
