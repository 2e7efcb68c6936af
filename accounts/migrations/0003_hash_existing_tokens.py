import hashlib

from django.db import migrations


def hash_existing_tokens(apps, schema_editor):
    """Move DRF's plaintext tokens (rest_framework.authtoken, no longer installed) to hashed ApiToken rows.

    Their keys keep working; the plaintext rows are deleted. Raw SQL: the old app's models are gone.
    """
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
        for key, user_id, created in rows:
            ApiToken.objects.update_or_create(
                user_id=user_id,
                defaults={
                    "key_hash": hashlib.sha256(key.encode()).hexdigest(),
                    "prefix": key[:8],
                    "created_at": created,
                },
            )
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_api_token")]

    operations = [migrations.RunPython(hash_existing_tokens, migrations.RunPython.noop)]
