from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

from ner.json_input import JsonLimits, configure_json_limits


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        configure_json_limits(
            JsonLimits(max_depth=settings.NERLAB_JSON_MAX_DEPTH, max_bytes=settings.NERLAB_JSON_MAX_BYTES)
        )
