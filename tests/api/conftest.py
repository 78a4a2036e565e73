from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api():
    """An API client; ``api.force_authenticate(user)`` or ``api.credentials(HTTP_AUTHORIZATION=...)`` to sign in."""
    return APIClient()


@pytest.fixture
def owner_api(api, user, project):
    api.force_authenticate(user)
    return api
