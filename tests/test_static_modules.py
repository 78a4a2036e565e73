"""The annotate page's ES modules, stored as production stores static files (config.staticfiles, hashed names):
each stored module imports its siblings by their hashed names, and those files exist.

collectstatic cannot hash modules that import each other in a cycle (each hash would cover the other), so this
also keeps the module graph acyclic.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

MODULES = Path(__file__).resolve().parent.parent / "static" / "js" / "annotate"
IMPORT = re.compile(r'^import\s*\{[^}]*\}\s*from\s*"([^"]+)";', re.MULTILINE)


def test_stored_modules_import_their_siblings_by_hashed_name(tmp_path: Path) -> None:
    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": "config.staticfiles.StaticFilesStorage"}}
    finders = ["django.contrib.staticfiles.finders.FileSystemFinder"]  # the site's own files are enough here
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages, STATICFILES_FINDERS=finders):
        call_command("collectstatic", interactive=False, verbosity=0)
    stored = tmp_path / "js" / "annotate"
    for source in sorted(MODULES.glob("*.js")):
        (hashed,) = stored.glob(f"{source.stem}.[0-9a-f]*[0-9a-f].js")
        imports = IMPORT.findall(hashed.read_text(encoding="utf-8"))
        assert len(imports) == len(IMPORT.findall(source.read_text(encoding="utf-8"))), source.name
        for name in imports:
            assert re.fullmatch(r"\./\w+\.[0-9a-f]{12}\.js", name), (source.name, name)
            assert (stored / name).is_file(), (source.name, name)
