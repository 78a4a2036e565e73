"""Audit: who added, changed or removed which tag and when (the project's log and a document's history)."""
