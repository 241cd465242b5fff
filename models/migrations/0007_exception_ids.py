from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('orderbot', '0006_security')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OrderException',
            name='exception_id',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='OrderException',
            name='fingerprint',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddConstraint(
            model_name='OrderException',
            constraint=UniqueConstraint(fields=('order', 'exception_id'), name=None),
        ),
    ]
