from __future__ import annotations

from django.apps import AppConfig


class PortabilityConfig(AppConfig):
    """Clone, whole-project archives, the "your data" page, Azure's authoring API and the CI/CD commands.

    The top of the dependency chain: it may import every other app; none imports it.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "portability"
    verbose_name = "Data portability"
