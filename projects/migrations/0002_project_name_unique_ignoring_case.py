"""Project names become unique without regard to case.

Projects whose names differ only in case ("projB", "PROJB") may exist already. The oldest keeps its name; each
later one is renamed to "<name>-<id>" (shortened to fit 50 characters, and still unique), and the renaming is
printed, so that nothing is lost and ``migrate`` never fails on old data. A renamed project's pages, API URLs and
Azure scripts use the new name from then on.
"""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

NAME_MAX = 50


def rename_case_duplicates(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    taken = {name.lower() for name in Project.objects.values_list("name", flat=True)}
    kept = set()
    for pk, name in Project.objects.order_by("created_at", "pk").values_list("pk", "name"):
        if name.lower() not in kept:
            kept.add(name.lower())
            continue
        suffix, attempt = f"-{pk}", 1
        while (new_name := name[: NAME_MAX - len(suffix)] + suffix).lower() in taken:
            attempt += 1
            suffix = f"-{pk}-{attempt}"
        taken.add(new_name.lower())
        kept.add(new_name.lower())
        Project.objects.filter(pk=pk).update(name=new_name)
        print(f"Project {name!r} renamed {new_name!r}: project names are now unique without regard to case.")


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rename_case_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="project",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                name="project_unique_name_ci",
                violation_error_message=(
                    "A project with this name already exists (names are compared without regard to case); choose "
                    "another name."
                ),
            ),
        ),
    ]
