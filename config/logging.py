"""Logging pieces named in ``LOGGING`` (config/settings/base.py)."""

from __future__ import annotations

import logging


class OneLineRefusals(logging.Filter):
    """Log a 4xx answer as one line: the path and the reason, without the traceback of the exception behind it.

    Django logs a refused (403) or missing (404) page with the ``PermissionDenied``/``Http404`` that caused it, so
    every refusal filled the log with tracebacks of code that worked as intended. Server errors (5xx) keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and 400 <= status < 500:
            # The reason the view gave, when it gave one (an unmatched URL's Resolver404 carries a dict instead).
            args = getattr(record.exc_info[1], "args", ())
            reason = args[0] if args and isinstance(args[0], str) else ""
            record.msg = record.getMessage() + (f" ({reason})" if reason else "")
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
