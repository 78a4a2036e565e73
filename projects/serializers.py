"""Input and output serializers of the projects API.

Input serializers check shapes and types only; the rules (names, languages, limits, the last owner) live in the
models and services, whose ``ValidationError``s the views turn into 400 responses with the same messages.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ner import limits
from ner.spans import OVERLAP_POLICIES
from projects.models import ApiKey, EntityType, Membership, Project
from projects.roles import ROLE_CHOICES
from projects.serializer_fields import EmailField, TextField
from projects.services import PROJECT_EDITABLE_FIELDS

# --- projects ---------------------------------------------------------------------------------------------------


class ProjectOutputSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this project.")

    class Meta:
        model = Project
        fields = [
            "name",
            *PROJECT_EDITABLE_FIELDS,
            "role",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_role(self, project: Project) -> str | None:
        # Set by the selectors (project_get_for_user) or by the list view; None for project API keys.
        role = getattr(project, "user_role", None)
        return str(role) if role else None


class _ProjectSettingsSerializer(serializers.Serializer):
    """The settings a client may give when it creates or updates a project."""

    # Loose on purpose: the model's validation (full_clean in the services) gives the real messages.

    description = TextField(required=False, allow_blank=True, max_length=2000)
    language = TextField(required=False, max_length=35)
    multilingual = serializers.BooleanField(required=False)
    label_mode = serializers.ChoiceField(required=False, choices=Project.LabelMode.choices)
    overlap_policy = serializers.ChoiceField(required=False, choices=[(p, p) for p in OVERLAP_POLICIES])
    split_mode = serializers.ChoiceField(required=False, choices=Project.SplitMode.choices)
    test_percent = serializers.IntegerField(required=False, min_value=1, max_value=99)
    split_seed = serializers.IntegerField(required=False, min_value=0)
    training_scope = serializers.ChoiceField(required=False, choices=Project.TrainingScope.choices)


class ProjectCreateInputSerializer(_ProjectSettingsSerializer):
    name = TextField(max_length=limits.PROJECT_NAME_MAX, help_text="Letters, digits and _ . - only.")
    language = TextField(max_length=35, help_text="BCP-47 code, e.g. en, en-US, de, pt-BR.")


class ProjectUpdateInputSerializer(_ProjectSettingsSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # DRF would silently ignore "name"; a client that tries to rename should hear that it cannot.
        if isinstance(self.initial_data, dict) and "name" in self.initial_data:
            raise serializers.ValidationError({"name": "A project's name cannot be changed."})
        return attrs


# --- members and invitations ------------------------------------------------------------------------------------


class MemberOutputSerializer(serializers.ModelSerializer):
    username = TextField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]
        read_only_fields = fields


class MemberCreateInputSerializer(serializers.Serializer):
    username = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        help_text="An existing user's username.",
        error_messages={"does_not_exist": "There is no active user called {value}."},
    )
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class MemberUpdateInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class InvitationCreateInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    email = EmailField(required=False, allow_blank=True, default="")


class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = TextField()
    email = EmailField(allow_blank=True)
    expires_at = serializers.DateTimeField()
    token = TextField(help_text="Shown only in this response; only its hash is stored.")
    link = TextField(allow_null=True, help_text="The page that accepts the invitation.")


# --- entity types -----------------------------------------------------------------------------------------------


class EntityTypeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = EntityType
        fields = ["id", "name", "description", "color", "hotkey", "created_at"]
        read_only_fields = fields


class EntityTypeCreateInputSerializer(serializers.Serializer):
    name = TextField(max_length=limits.ENTITY_TYPE_NAME_MAX)
    description = TextField(required=False, allow_blank=True, max_length=1000, default="")
    color = TextField(
        required=False, allow_blank=True, max_length=7, default="", help_text="#rrggbb; blank picks a free colour."
    )
    hotkey = TextField(required=False, allow_blank=True, max_length=1, default="", trim_whitespace=False)


class EntityTypeUpdateInputSerializer(serializers.Serializer):
    name = TextField(required=False, max_length=limits.ENTITY_TYPE_NAME_MAX)
    description = TextField(required=False, allow_blank=True, max_length=1000)
    color = TextField(required=False, max_length=7)
    hotkey = TextField(required=False, allow_blank=True, max_length=1, trim_whitespace=False)


class EntityTypeDeleteOutputSerializer(serializers.Serializer):
    deleted_spans = serializers.IntegerField(help_text="How many spans of this type were deleted with it.")


class EntityTypeMergeInputSerializer(serializers.Serializer):
    into = serializers.IntegerField(help_text="The id of the entity type that receives the spans.")


class EntityTypeMergeOutputSerializer(serializers.Serializer):
    moved = serializers.IntegerField(help_text="Spans moved to the target type.")
    duplicates_removed = serializers.IntegerField(
        help_text="Spans removed because the target type already tagged exactly the same region."
    )
    into = EntityTypeOutputSerializer()


# --- stats ------------------------------------------------------------------------------------------------------


class _EntityTypeRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = TextField()
    color = TextField()


class EntityTypeStatsOutputSerializer(serializers.Serializer):
    entity_type = _EntityTypeRefSerializer()
    spans = serializers.IntegerField()
    documents = serializers.IntegerField(help_text="Documents with at least one span of this type.")


class ProjectStatsOutputSerializer(serializers.Serializer):
    documents = serializers.IntegerField()
    tagged_documents = serializers.IntegerField()
    in_progress_documents = serializers.IntegerField()
    spans = serializers.IntegerField()
    per_type = EntityTypeStatsOutputSerializer(many=True)


# --- API keys ---------------------------------------------------------------------------------------------------


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "project", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreatedOutputSerializer(ApiKeyOutputSerializer):
    key = TextField(read_only=True, help_text="The secret; shown only in this response.")

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = [*ApiKeyOutputSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateInputSerializer(serializers.Serializer):
    name = TextField(max_length=100, required=False, allow_blank=True, default="")
    project = TextField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A project name: the key can then only call that project's prediction API. Omit for a key that "
        "acts with all of your roles.",
    )
