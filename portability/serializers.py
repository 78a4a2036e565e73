from __future__ import annotations

from rest_framework import serializers

from ner import limits


class ProjectCloneInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=limits.PROJECT_NAME_MAX)
    include_models = serializers.BooleanField(default=False)


class ArchiveQuerySerializer(serializers.Serializer):
    models = serializers.BooleanField(default=True, help_text="Include trained models.")
    members = serializers.BooleanField(default=False, help_text="List members' usernames and roles.")


class ArchiveImportInputSerializer(serializers.Serializer):
    archive = serializers.FileField()
    name = serializers.CharField(max_length=limits.PROJECT_NAME_MAX, required=False, allow_blank=True, default="")
    include_models = serializers.BooleanField(default=True)
    restore_members = serializers.BooleanField(
        default=False,
        help_text="Give the archive's members (users that exist here) their roles back: superusers only; for anyone "
        "else nobody but the importer is added.",
    )


class ContainerFileOutputSerializer(serializers.Serializer):
    container = serializers.CharField()
    name = serializers.CharField()
    size_bytes = serializers.IntegerField()
    created = serializers.BooleanField()


class TableCountSerializer(serializers.Serializer):
    table = serializers.CharField()
    label = serializers.CharField()
    rows = serializers.IntegerField()


class StorageUsageSerializer(serializers.Serializer):
    prefix = serializers.CharField()
    files = serializers.IntegerField()
    bytes = serializers.IntegerField()
    backend = serializers.CharField()
    location = serializers.CharField()


class DatabaseInfoSerializer(serializers.Serializer):
    engine = serializers.CharField()
    name = serializers.CharField()
    host = serializers.CharField()


class DataInventorySerializer(serializers.Serializer):
    tables = TableCountSerializer(many=True)
    storage = StorageUsageSerializer()
    database = DatabaseInfoSerializer()
    containers_root = serializers.CharField()
