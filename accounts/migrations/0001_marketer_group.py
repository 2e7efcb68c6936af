from django.db import migrations


def create_marketer_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="Marketer")


def remove_marketer_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Marketer").delete()


class Migration(migrations.Migration):
    """The Marketer role; its permissions are granted by accounts.roles.marketer_group_sync after migrate."""

    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_marketer_group, remove_marketer_group)]
