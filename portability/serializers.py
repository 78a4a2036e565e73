from __future__ import annotations

from rest_framework import serializers

from ner import limits
from projects.serializer_fields import TextField


class ProjectCloneInputSerializer(serializers.Serializer):
    name = TextField(max_length=limits.PROJECT_NAME_MAX)
    include_models = serializers.BooleanField(default=False)


class ArchiveQuerySerializer(serializers.Serializer):
    models = serializers.BooleanField(default=True, help_text="Include trained models.")
    members = serializers.BooleanField(default=False, help_text="List members' usernames and roles.")


class ArchiveImportInputSerializer(serializers.Serializer):
    archive = serializers.FileField()
    name = TextField(max_length=limits.PROJECT_NAME_MAX, required=False, allow_blank=True, default="")
    include_models = serializers.BooleanField(default=True)
    restore_members = serializers.BooleanField(
        default=False,
        help_text="Give the archive's members (users that exist here) their roles back: superusers only; for anyone "
        "else nobody but the importer is added.",
    )


class ContainerFileOutputSerializer(serializers.Serializer):
    container = TextField()
    name = TextField()
    size_bytes = serializers.IntegerField()
    created = serializers.BooleanField()


class TableCountSerializer(serializers.Serializer):
    table = TextField()
    label = TextField()
    rows = serializers.IntegerField()


class StorageUsageSerializer(serializers.Serializer):
    prefix = TextField()
    files = serializers.IntegerField()
    bytes = serializers.IntegerField()
    backend = TextField()
    location = TextField()


class DatabaseInfoSerializer(serializers.Serializer):
    engine = TextField()
    name = TextField()
    host = TextField()


class DataInventorySerializer(serializers.Serializer):
    tables = TableCountSerializer(many=True)
    storage = StorageUsageSerializer()
    database = DatabaseInfoSerializer()
    containers_root = TextField()
