"""REST endpoints of an annotator's own tags on a double-annotated document. Filled in by the agreement work."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from projects.api import ProjectScopedAPIView


class AnnotatorSpanListApi(ProjectScopedAPIView):
    def post(self, request: Request, project_name: str, document_id: int, assignment_id: int) -> Response:
        raise NotImplementedError


class AssignmentSubmitApi(ProjectScopedAPIView):
    def post(self, request: Request, project_name: str, document_id: int, assignment_id: int) -> Response:
        raise NotImplementedError
