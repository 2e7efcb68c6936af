import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_data_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("demo_data")
    call_command("demo_data")
    out = capsys.readouterr().out
    assert "Users: created admin, marketer." in out
    assert "Users: already there." in out
    User = get_user_model()
    assert User.objects.get(username="marketer").groups.filter(name="Marketer").exists()
    assert User.objects.get(username="admin").check_password("whatsapp-demo")


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_demo_data_refuses_with_debug_off_and_creates_nobody() -> None:
    with pytest.raises(CommandError, match="--force"):
        call_command("demo_data")
    assert not get_user_model().objects.filter(username="admin").exists()


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_demo_data_runs_with_debug_off_when_forced(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("demo_data", "--force")
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
