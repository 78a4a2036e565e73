"""Containers get owners.

No owner is guessed for the folders already under NERLAB_CONTAINERS_ROOT: they stay unowned (superusers only)
until an operator assigns each with ``manage.py nerlab_container_owner NAME USERNAME``. Guessing (from a project
that names the folder, say) could hand one user's files to another.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portability', '0002_azure_project_settings'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Container',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=63)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(django.db.models.functions.text.Lower('name'), name='container_unique_name_ci', violation_error_message='This container name is taken.')],
            },
        ),
    ]
