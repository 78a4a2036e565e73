"""One receiver: whichever way a project is deleted (its page, the REST API, Azure's DELETE, the admin), the Azure
runtime jobs that predicted on it go too. They name the project only inside their JSON request, so no foreign key
can cascade them, and the projects app cannot know about them (it sits below serving)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from projects.models import Project


@receiver(post_delete, sender=Project, dispatch_uid="portability.project_deleted")
def project_deleted(sender: type[Project], instance: Project, **kwargs: Any) -> None:
    from portability.services import analyze_jobs_purge  # services import models; keep app loading light

    name = instance.name
    transaction.on_commit(lambda: analyze_jobs_purge(project_name=name))
