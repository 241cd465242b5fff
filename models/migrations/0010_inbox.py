from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0009_console')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RequestMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('orderbot.CustomerRequest', source_field='request_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('direction', fields.CharField(max_length=3)),
                ('author', fields.CharField(max_length=32)),
                ('text', fields.TextField(unique=False)),
            ],
            options={'table': 'request_messages', 'app': 'orderbot', 'indexes': [Index(fields=['request_id', 'id'])], 'pk_attr': 'id', 'table_description': "One message of a request's thread: the customer's (in) or a staff member's (out)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='CustomerRequest',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='CustomerRequest',
            name='claimed_by',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddIndex(
            model_name='CustomerRequest',
            index=Index(fields=['channel', 'address', 'status']),
        ),
    ]
