from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0005_late_marks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BindToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('order', fields.ForeignKeyField('orderbot.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='bind_tokens', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_by', fields.ForeignKeyField('orderbot.Identity', source_field='used_by_id', null=True, db_constraint=True, to_field='id', related_name='bind_tokens', on_delete=OnDelete.SET_NULL)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bind_tokens', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': "A deep link's token for one order (stored hashed): used by one chat, expiring, revocable."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GuessBudget',
            fields=[
                ('subject', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('stopped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reopened_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reopened_by', fields.CharField(null=True, max_length=100)),
            ],
            options={'table': 'guess_budgets', 'app': 'orderbot', 'pk_attr': 'subject', 'table_description': 'A subject (``order:SO1``, ``customer:7``) whose codes stopped, or were reopened.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderAccess',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('identity', fields.ForeignKeyField('orderbot.Identity', source_field='identity_id', db_constraint=True, to_field='id', related_name='accesses', on_delete=OnDelete.CASCADE)),
                ('order', fields.ForeignKeyField('orderbot.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='accesses', on_delete=OnDelete.CASCADE)),
                ('via', fields.CharField(max_length=16)),
                ('granted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'order_access', 'app': 'orderbot', 'unique_together': (('identity', 'order'),), 'pk_attr': 'id', 'table_description': 'One chat identity may see one order: it proved itself for it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('order_no', fields.CharField(db_index=True, max_length=32)),
                ('field', fields.CharField(max_length=64)),
                ('before', fields.TextField(null=True, unique=False)),
                ('after', fields.TextField(null=True, unique=False)),
                ('actor', fields.CharField(null=True, max_length=128)),
                ('source', fields.CharField(max_length=32)),
                ('scope', fields.CharField(default='order', max_length=16)),
            ],
            options={'table': 'order_changes', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': 'Who changed which field of an order, from what to what, and when (``scope``: how far it reached).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WrongCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subject', fields.CharField(max_length=100)),
                ('session_key', fields.CharField(max_length=254)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'wrong_codes', 'app': 'orderbot', 'indexes': [Index(fields=['subject', 'at'])], 'pk_attr': 'id', 'table_description': 'One wrong code against one subject.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiKey',
            name='scopes',
            field=fields.CharField(default='admin', db_default='admin', max_length=200),
        ),
        ops.AddField(
            model_name='Challenge',
            name='order_ref',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
    ]
