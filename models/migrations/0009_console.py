from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0008_digest')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActionLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(max_length=128)),
                ('action', fields.CharField(max_length=64)),
                ('subject', fields.CharField(db_index=True, max_length=128)),
                ('before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'action_log', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': 'Every state change made in the staff console or its CLI twin: who did what to what, before → after.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConsoleSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('staff', fields.ForeignKeyField('orderbot.StaffMember', source_field='staff_id', db_constraint=True, to_field='id', related_name='console_sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('user_agent', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'console_sessions', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': 'A signed-in browser.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConsoleSignin',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('staff', fields.ForeignKeyField('orderbot.StaffMember', source_field='staff_id', db_constraint=True, to_field='id', related_name='console_signins', on_delete=OnDelete.CASCADE)),
                ('via', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_signins', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': 'A one-time sign-in link for one staff member.'},
            bases=['Model'],
        ),
    ]
