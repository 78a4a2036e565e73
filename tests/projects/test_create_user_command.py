from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.projects.factories import UserFactory

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue()


def test_create_user_with_password():
    output = _run("dora", "--email", "dora@example.org", "--password", "x7!unusual-Pass")
    dora = get_user_model().objects.get(username="dora")
    assert "Created user dora" in output
    assert dora.email == "dora@example.org" and dora.check_password("x7!unusual-Pass")
    assert not dora.is_superuser
    assert "x7!unusual-Pass" not in output


def test_create_user_generates_and_prints_a_password():
    output = _run("erin")
    password = output.split("Password: ", 1)[1].split()[0]
    assert len(password) >= 12
    assert get_user_model().objects.get(username="erin").check_password(password)


def test_create_superuser():
    _run("root", "--superuser")
    root = get_user_model().objects.get(username="root")
    assert root.is_superuser and root.is_staff


def test_existing_user_is_an_error_unless_update_password():
    UserFactory(username="frank")
    with pytest.raises(CommandError, match="already exists"):
        _run("Frank", "--password", "x7!unusual-Pass")
    output = _run("frank", "--password", "x7!unusual-Pass", "--update-password")
    assert "Updated user frank" in output
    assert get_user_model().objects.get(username="frank").check_password("x7!unusual-Pass")


def test_weak_password_is_refused():
    with pytest.raises(CommandError, match=r"too short|too common"):
        _run("gina", "--password", "123")
    assert not get_user_model().objects.filter(username="gina").exists()
