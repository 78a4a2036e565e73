"""nerlab_client: a small typed Python client for nerlab's REST API.

    from nerlab_client import NerlabClient

    client = NerlabClient("https://nerlab.example.org", api_key="nl_...")
    client.create_project("contracts", language="en")
    client.create_entity_type("contracts", "Person")
    client.upload_documents("contracts", {"a.txt": "Alice Smith signed."})
    client.import_labels("contracts", [{"name": "a.txt", "spans": [{"start": 0, "end": 11, "label": "Person"}]}])
    run = client.train("contracts", max_steps=500)
    client.wait_for_training("contracts", run["id"], progress=lambda r: print(r["percent"]))
    client.deploy("contracts", "production", model=run_model_name)
    client.predict("contracts", "production", ["Bob Jones met Alice Smith."])

Install with ``pip install "nerlab[client]"`` (or the repository checkout: ``pip install -e ".[client]"``).
"""

from __future__ import annotations

from nerlab_client.client import NerlabClient, NerlabError, NotAvailable, TrainingFailed

__all__ = ["NerlabClient", "NerlabError", "NotAvailable", "TrainingFailed"]
