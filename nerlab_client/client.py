"""The client. One method per task a script needs, each a thin call to one documented endpoint of /api/v1/."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

JSON = dict[str, Any]
FINISHED = ("succeeded", "failed", "cancelled")


class NerlabError(Exception):
    """The server refused a request; ``status`` is the HTTP status and ``body`` its parsed JSON (or text)."""

    def __init__(self, status: int, body: Any, method: str, url: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{method} {url} failed with {status}: {body}")


class NotAvailable(NerlabError):
    """This nerlab server does not offer the endpoint (an older version, or a feature not installed)."""


class TrainingFailed(Exception):
    """A training run ended without a model; ``run`` is its last state."""

    def __init__(self, run: JSON) -> None:
        self.run = run
        super().__init__(f"training run {run.get('id')} {run.get('status')}: {run.get('error') or 'no error given'}")


class NerlabClient:
    """A nerlab server reached with an API key (a *user key* for authoring; a *project key* can only predict).

    ``base_url`` is the server's root (``https://nerlab.example.org``); every method raises ``NerlabError`` with
    the server's message when a request is refused, and ``NotAvailable`` when the endpoint does not exist.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 60.0, transport: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v1/",
            headers={"Authorization": f"Api-Key {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NerlabClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text[:500]
            error = NotAvailable if response.status_code in (404, 405) and _is_missing_route(body) else NerlabError
            raise error(response.status_code, body, method, str(response.request.url))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # --- projects and schema -----------------------------------------------------------------------------------

    def create_project(self, name: str, *, language: str = "en", description: str = "", **settings: Any) -> JSON:
        """Create a project (you become its owner). ``settings`` are the project's other fields (multilingual...)."""
        return self._request(
            "POST", "projects/", json={"name": name, "language": language, "description": description, **settings}
        )

    def get_project(self, project: str) -> JSON:
        return self._request("GET", f"projects/{project}/")

    def create_entity_type(self, project: str, name: str, **fields: Any) -> JSON:
        """Add an entity type (``description``, ``color``, ``hotkey`` optional)."""
        return self._request("POST", f"projects/{project}/entity-types/", json={"name": name, **fields})

    def entity_types(self, project: str) -> list[JSON]:
        return list(self._request("GET", f"projects/{project}/entity-types/"))

    # --- documents and labels ----------------------------------------------------------------------------------

    def upload_documents(self, project: str, documents: Mapping[str, str | bytes]) -> JSON:
        """Upload documents as .txt files ``{file name: text}`` (or .zip bytes under a ``.zip`` name). Returns
        ``{"created": [{"id", "name"}], "duplicates": [...]}``; nothing is written if any file is refused."""
        files = [
            ("files", (name, text.encode("utf-8") if isinstance(text, str) else text, _content_type(name)))
            for name, text in documents.items()
        ]
        return self._request("POST", f"projects/{project}/documents/", files=files)

    def documents(self, project: str) -> list[JSON]:
        """Every document of the project (all pages)."""
        found: list[JSON] = []
        offset = 0
        while True:
            page = self._request("GET", f"projects/{project}/documents/", params={"limit": 100, "offset": offset})
            results = page["results"] if isinstance(page, dict) else page
            found.extend(results)
            if not isinstance(page, dict) or not page.get("next"):
                return found
            offset += len(results)

    def import_labels(self, project: str, labels: Iterable[Mapping[str, Any]], *, mark_tagged: bool = True) -> int:
        """Tag documents: ``[{"name": "a.txt", "spans": [{"start", "end", "label"}]}]`` with code point offsets.

        Spans are created one by one through the spans endpoint (the same rules as tagging by hand: bounds,
        overlap policy); unknown entity types are created first; each document is then marked tagged (so it
        counts for training) unless ``mark_tagged`` is false. Returns how many spans were created.
        """
        by_name = {document["name"]: document["id"] for document in self.documents(project)}
        types = {entity_type["name"]: entity_type["id"] for entity_type in self.entity_types(project)}
        created = 0
        for item in labels:
            document_id = by_name.get(str(item["name"]))
            if document_id is None:
                raise KeyError(f"no document named {item['name']!r} in {project}; upload it first")
            for span in item.get("spans", ()):
                label = str(span["label"])
                if label not in types:
                    types[label] = self.create_entity_type(project, label)["id"]
                self._request(
                    "POST",
                    f"projects/{project}/documents/{document_id}/spans/",
                    json={"entity_type": types[label], "start": int(span["start"]), "end": int(span["end"])},
                )
                created += 1
            if mark_tagged:
                self._request("PATCH", f"projects/{project}/documents/{document_id}/", json={"status": "tagged"})
        return created

    # --- training and evaluation -------------------------------------------------------------------------------

    def train(self, project: str, *, model_name: str = "", **settings: Any) -> JSON:
        """Start a training run (``max_steps``, ``max_epochs``, ``patience``, ``seed``, ``time_budget_minutes``, or
        ``same_settings_as`` a model id); returns the queued run. Step limit and patience left out follow the
        training side's size."""
        return self._request(
            "POST",
            f"projects/{project}/training-runs/",
            json={"model_name": model_name, **settings} if model_name else settings,
        )

    def training_run(self, project: str, run_id: int) -> JSON:
        return self._request("GET", f"projects/{project}/training-runs/{run_id}/")

    def wait_for_training(
        self,
        project: str,
        run_id: int,
        *,
        progress: Callable[[JSON], None] | None = None,
        poll_s: float = 2.0,
        timeout_s: float | None = None,
    ) -> JSON:
        """Poll a run until it finishes, calling ``progress(run)`` after each poll (``run["percent"]``,
        ``run["dev_f1"]``, ``run["eta_s"]``...). Returns the succeeded run (its ``model_id`` names the model);
        raises TrainingFailed when it failed or was cancelled, TimeoutError after ``timeout_s``."""
        started = time.monotonic()
        while True:
            run = self.training_run(project, run_id)
            if progress is not None:
                progress(run)
            if run["status"] in FINISHED:
                if run["status"] != "succeeded":
                    raise TrainingFailed(run)
                return run
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise TimeoutError(f"training run {run_id} still {run['status']} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def models(self, project: str) -> list[JSON]:
        page = self._request("GET", f"projects/{project}/models/")
        return list(page["results"] if isinstance(page, dict) and "results" in page else page)

    def get_evaluation(self, project: str, model_id: int) -> JSON:
        """The model's evaluation on the test set (precision, recall, F1 per type and overall, confusion matrix)."""
        return self._request("GET", f"projects/{project}/models/{model_id}/evaluation/")

    # --- deployments and prediction ----------------------------------------------------------------------------

    def deploy(self, project: str, deployment: str, *, model: str | int) -> JSON:
        """Serve ``model`` (a trained model's name or id) as ``deployment``; an existing name is redeployed."""
        return self._request("POST", f"projects/{project}/deployments/", json={"name": deployment, "model": str(model)})

    def deployments(self, project: str) -> list[JSON]:
        return list(self._request("GET", f"projects/{project}/deployments/"))

    def swap_deployments(self, project: str, first: str, second: str) -> list[JSON]:
        """Exchange the models of two deployments atomically."""
        body = self._request("POST", f"projects/{project}/deployments/swap/", json={"first": first, "second": second})
        return list(body["deployments"])

    def delete_deployment(self, project: str, deployment: str) -> None:
        self._request("DELETE", f"projects/{project}/deployments/{deployment}/")

    def predict(
        self,
        project: str,
        deployment: str,
        documents: Sequence[str] | Sequence[Mapping[str, str]],
        *,
        string_index_type: str = "UnicodeCodePoint",
    ) -> list[JSON]:
        """Entities in up to 25 documents (125,000 characters in all): plain strings (ids "1", "2"...) or
        ``{"id", "text", "language"}`` mappings. Returns one ``{"id", "entities", "warnings"}`` per document; each
        entity has ``text``, ``category``, ``offset``, ``length`` and ``confidenceScore``."""
        payload = [
            {"id": str(index), "text": document} if isinstance(document, str) else dict(document)
            for index, document in enumerate(documents, start=1)
        ]
        body = self._request(
            "POST",
            f"projects/{project}/deployments/{deployment}/predict",
            json={"documents": payload, "stringIndexType": string_index_type},
        )
        return list(body["documents"])


def _content_type(name: str) -> str:
    return "application/zip" if name.lower().endswith(".zip") else "text/plain"


def _is_missing_route(body: Any) -> bool:
    """A 404 from a URL the server does not have (Django's page, not an API answer about a missing object)."""
    return not isinstance(body, dict | list)
