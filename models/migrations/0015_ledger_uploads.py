from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0014_order_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LedgerUpload',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('file_name', fields.CharField(max_length=200)),
                ('content', fields.BinaryField()),
                ('sha256', fields.CharField(max_length=64)),
                ('uploaded_by', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('notify', fields.BooleanField(default=False)),
                ('report', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('applied_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('applied_by', fields.CharField(null=True, max_length=32)),
            ],
            options={'table': 'ledger_uploads', 'app': 'orderbot', 'pk_attr': 'id', 'table_description': "One uploaded ledger, its dry run's report and, once confirmed, its import's."},
            bases=['Model'],
        ),
    ]
