from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0002_conversation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChannelToken',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.TextField(unique=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'channel_tokens', 'app': 'orderbot', 'pk_attr': 'name', 'table_description': "A platform's access token (WeChat's), shared by every process."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Lease',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('owner', fields.CharField(null=True, max_length=64)),
                ('until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'leases', 'app': 'orderbot', 'pk_attr': 'name', 'table_description': 'A named job that one process at a time may do (refresh a token, scan for late orders).'},
            bases=['Model'],
        ),
    ]
