"""Input and output serializers of the deployments and prediction API (shapes only; rules live in services)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ner import limits
from projects.serializer_fields import TextField
from serving.azure_wire import STRING_INDEX_TYPES, UNICODE_CODE_POINT
from serving.models import Deployment


class DeploymentOutputSerializer(serializers.ModelSerializer):
    model = TextField(source="model.name", read_only=True, help_text="The deployed model's name.")
    model_id = serializers.IntegerField(read_only=True)
    model_trained_at = serializers.DateTimeField(source="model.created_at", read_only=True)
    deployed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = ["name", "model", "model_id", "model_trained_at", "deployed_at", "deployed_by", "updated_at"]
        read_only_fields = fields


class DeploymentCreateInputSerializer(serializers.Serializer):
    name = TextField(max_length=limits.DEPLOYMENT_NAME_MAX, help_text="Letters, digits and _ . - only.")
    model = TextField(help_text="The trained model to deploy: its name or its id.")


class DeploymentReplaceInputSerializer(serializers.Serializer):
    model = TextField(required=False, help_text="The trained model to deploy: its name or its id.")
    trainedModelLabel = TextField(required=False, help_text="Azure's name for `model`.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model = attrs.get("model") or attrs.get("trainedModelLabel")
        if not model:
            raise serializers.ValidationError({"model": "Name the trained model to deploy."})
        return {"model": model}


class DeploymentSwapInputSerializer(serializers.Serializer):
    first = TextField(max_length=limits.DEPLOYMENT_NAME_MAX, help_text="A deployment name.")
    second = TextField(max_length=limits.DEPLOYMENT_NAME_MAX, help_text="Another deployment name.")


class DeploymentSwapOutputSerializer(serializers.Serializer):
    deployments = DeploymentOutputSerializer(many=True)


class PredictDocumentSerializer(serializers.Serializer):
    id = TextField(required=False, max_length=64, help_text="Defaults to the position, from 1.")
    text = TextField(allow_blank=True, trim_whitespace=False)
    language = TextField(required=False, allow_null=True, allow_blank=True, max_length=35)


class PredictInputSerializer(serializers.Serializer):
    documents = PredictDocumentSerializer(
        many=True,
        required=False,
        help_text=f"Up to {limits.PREDICT_DOCUMENTS_MAX} documents, {limits.PREDICT_CHARS_MAX:,} characters in all.",
    )
    text = TextField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="Shortcut for one document with id 1."
    )
    stringIndexType = serializers.ChoiceField(
        choices=[(value, value) for value in STRING_INDEX_TYPES],
        default=UNICODE_CODE_POINT,
        help_text="The unit of offset and length: code points (Python), UTF-16 code units (JavaScript, .NET, "
        "Java) or text elements (grapheme clusters).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "documents" in attrs and "text" in attrs:
            raise serializers.ValidationError("Send either documents or text, not both.")
        if "documents" not in attrs and "text" not in attrs:
            raise serializers.ValidationError('Send {"documents": [{"id": "1", "text": "..."}]} or {"text": "..."}.')
        return attrs


class EntityOutputSerializer(serializers.Serializer):
    text = TextField()
    category = TextField()
    offset = serializers.IntegerField()
    length = serializers.IntegerField()
    confidenceScore = serializers.FloatField()


class WarningOutputSerializer(serializers.Serializer):
    code = TextField()
    message = TextField()


class PredictDocumentOutputSerializer(serializers.Serializer):
    id = TextField()
    entities = EntityOutputSerializer(many=True)
    warnings = WarningOutputSerializer(many=True)


class PredictOutputSerializer(serializers.Serializer):
    deploymentName = TextField()
    modelId = serializers.IntegerField()
    modelVersion = TextField(help_text="The trained model's name.")
    stringIndexType = TextField()
    documents = PredictDocumentOutputSerializer(many=True)
