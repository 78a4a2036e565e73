"""Signals the projects app sends to the apps that build on it (it cannot import them)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction, before an entity type's spans are moved (merge) or deleted (delete), with
# ``entity_type``, ``target`` (the merge target, or None for a delete) and ``user``. labeling writes the audit
# trail from it.
entity_type_spans_changing = Signal()
