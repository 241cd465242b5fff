from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# 0007 is another change's; on merging both, this one depends on 0007 instead.
class Migration(migrations.Migration):
    dependencies = [('orderbot', '0007_exception_ids')]

    initial = False

    operations = [
        ops.CreateModel(
            name='NoticeHold',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=320)),
                ('until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notice_holds', 'app': 'orderbot', 'pk_attr': 'name', 'table_description': "Notices of one name wait until ``until``: a staff member's kind of notice after a digest, the daily summary."},
            bases=['Model'],
        ),
    ]
