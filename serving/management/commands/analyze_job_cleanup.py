"""``python manage.py analyze_job_cleanup``: delete Azure-compatible analyze jobs past their 24 hours."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from serving.services import analyze_job_cleanup


class Command(BaseCommand):
    help = "Delete analyze-text jobs whose results have expired (kept 24 hours, as Azure keeps them)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = analyze_job_cleanup()
        self.stdout.write(f"Deleted {deleted} expired analyze job{'s' if deleted != 1 else ''}.")
