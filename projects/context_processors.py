from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def nerlab(request: HttpRequest) -> dict[str, Any]:
    return {"self_registration": settings.NERLAB_SELF_REGISTRATION}
