"""How static files are kept for serving: whitenoise's compressed manifest storage (hashed names, cached for
ever), with the import statements of ES modules pointed at the hashed names too."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    # The annotate page's JavaScript is native ES modules importing each other by relative path (no build step).
    # Unrewritten, the hashed entry point would import unhashed siblings, which whitenoise serves with a short
    # cache lifetime: a browser could mix a new module with an old one after a release. Two consequences for the
    # modules (tests/test_static_modules.py checks them): they may form no cycle, since a file's hash covers the
    # hashed names of the files it loads; and no comment may hold the keyword followed by a space, since the
    # rewriting would take the comment for the statement and skip the real one.
    support_js_module_import_aggregation = True
