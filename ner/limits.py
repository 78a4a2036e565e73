"""Service limits, matching Azure custom NER's published figures (reference §2) unless stated."""

from __future__ import annotations

PROJECT_NAME_MAX = 50
MODEL_NAME_MAX = 50
DEPLOYMENT_NAME_MAX = 50
ENTITY_TYPE_NAME_MAX = 50
ENTITY_TYPES_MAX = 200
DOCUMENT_CHARS_MAX = 128_000
DOCUMENTS_MAX = 100_000
TRAINING_DOCUMENTS_MIN = 10
ENTITY_CHARS_MAX = 500
TRAINED_MODELS_MAX = 10
DEPLOYMENTS_MAX = 10
PREDICT_DOCUMENTS_MAX = 25
PREDICT_CHARS_MAX = 125_000
RECOMMENDED_INSTANCES_PER_TYPE = 50
FEW_INSTANCES_WARNING = 15

# Our own limit for a training's or pretraining's seed: runs store it in a 32-bit integer column.
SEED_MAX = 2**31 - 1

# Our own limit for a training's time budget ("at most N minutes"): a day.
TIME_BUDGET_MINUTES_MAX = 24 * 60

# Our own limits for uploads: a zip is refused before extraction when it would expand past these.
UPLOAD_FILES_MAX = 10_000
UPLOAD_UNCOMPRESSED_BYTES_MAX = 512 * 1024 * 1024
UPLOAD_COMPRESSION_RATIO_MAX = 200
# A .txt file may hold at most DOCUMENT_CHARS_MAX characters, which UTF-16 stores in at most 4 bytes each.
TXT_FILE_BYTES_MAX = DOCUMENT_CHARS_MAX * 4 + 4
# Our own limits for any JSON read (files, archive entries, request bodies); see ner.json_input.
JSON_DEPTH_MAX = 100
JSON_BYTES_MAX = 64 * 1024 * 1024
