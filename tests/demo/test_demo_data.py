import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_demo_data_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("demo_data")
    call_command("demo_data")
    out = capsys.readouterr().out
    assert "Users: created admin, marketer." in out
    assert "Users: already there." in out
    User = get_user_model()
    assert User.objects.get(username="marketer").groups.filter(name="Marketer").exists()
    assert User.objects.get(username="admin").check_password("whatsapp-demo")
