"""REST endpoints for pre-annotation suggestions (list, accept, reject). Filled in by the suggestions work."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from projects.api import ProjectScopedAPIView


class SuggestionListApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str, document_id: int) -> Response:
        raise NotImplementedError
