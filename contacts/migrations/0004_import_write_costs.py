# Fewer indexes and constraints for every contact an import writes; see the comments on each operation.

import django.db.models.deletion
from django.db import migrations, models

# Django adds a varchar_pattern_ops copy of every unique CharField's index so that
# `LIKE 'prefix%'` can use an index. No query filters contacts by a prefix of phone or external id (searches use
# contains/icontains, which no btree serves; lookups are exact and use the unique index), so these two indexes
# only cost every insert and every phone/external id change. A later AlterField that changes either column's type
# would add them back; drop them again in that migration.
LIKE_INDEXES = """
SELECT indexname FROM pg_indexes
WHERE tablename = 'contacts_contact' AND indexdef LIKE '%%varchar_pattern_ops%%'
AND (indexdef LIKE '%%(phone %%' OR indexdef LIKE '%%(external_id %%')
"""


def drop_like_indexes(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(LIKE_INDEXES)
        for (name,) in cursor.fetchall():
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def add_like_indexes(apps, schema_editor):
    contact = apps.get_model("contacts", "Contact")
    for name in ("phone", "external_id"):
        field = contact._meta.get_field(name)
        schema_editor.execute(schema_editor._create_like_index_sql(contact, field))


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0003_events_segments_imports'),
    ]

    operations = [
        migrations.AlterField(
            model_name='consentchange',
            name='contact',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='consent_changes', to='contacts.contact'),
        ),
        migrations.AlterField(
            model_name='contact',
            name='last_import',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='contacts.contactimport'),
        ),
        migrations.RunPython(drop_like_indexes, add_like_indexes, elidable=False),
    ]
