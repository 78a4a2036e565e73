"""Where every app's project-scoped routes are mounted: one spelling of the project's URL and its parameter."""

from __future__ import annotations

# Each app includes its project-scoped routes under this prefix; theirs are relative to it ("documents/", ...).
PROJECT = "projects/<str:project_name>/"
