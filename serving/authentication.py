"""A short per-process cache of who an API key is and which project it may predict on.

Without it every prediction request spends three database round trips before the model runs: the key lookup
(``projects.services.api_key_authenticate``), the membership check (``projects.selectors.project_get_for_user``)
and the deployment. The first two change rarely, so each web process keeps their answers for at most
``ACCESS_CACHE_TTL_S`` seconds (5):

- A revoked or deleted key, a deactivated user, a removed membership or a lowered role takes effect within 5
  seconds in every process, and at once in the process that made the change (every save or delete of an API key,
  membership, project or user clears this process's cache).
- Only successful answers are cached: a wrong key is looked up (and refused) every time, and a refusal (401, 403,
  404) is never remembered.
- That a client address is not locked out for guessing keys (projects/throttling.py) is remembered the same way,
  and checked before the key cache, so a cached key does not let a locked-out address in: a lockout takes effect
  at once in the process that counted the failure that set it off (a wrong key forgets its address), and within
  5 seconds in the others.
- The cache is keyed by the SHA-256 of the key, never the key itself, and is bounded (``ACCESS_CACHE_MAX``
  entries; when full it starts over).
- The deployment is not cached: a redeploy or swap takes effect on the very next request, as documented in
  ``serving.services``.
- ``api_key_authenticate`` still refreshes ``last_used_at`` (at most every 5 minutes), on the cache misses, which
  come at least every 5 seconds while a key is in use.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request

from projects.authentication import ApiKeyAuthentication
from projects.throttling import api_key_guessing_check, client_address

ACCESS_CACHE_TTL_S = 5.0
ACCESS_CACHE_MAX = 4096


class AccessCache:
    """A thread-safe mapping whose entries expire ``ttl_s`` seconds after they were stored."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (self.clock() + self.ttl_s, value)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# (key digest) -> (user, ApiKey); (ApiKey id, project name, permission) -> Project; client address -> True (not
# locked out)
key_cache = AccessCache(ACCESS_CACHE_TTL_S, ACCESS_CACHE_MAX)
project_cache = AccessCache(ACCESS_CACHE_TTL_S, ACCESS_CACHE_MAX)
address_cache = AccessCache(ACCESS_CACHE_TTL_S, ACCESS_CACHE_MAX)


def access_caches_clear(**_: Any) -> None:
    """Forget every cached key and project scope in this process (connected to the models' save/delete)."""
    key_cache.clear()
    project_cache.clear()
    address_cache.clear()


class CachedApiKeyAuthentication(ApiKeyAuthentication):
    """``ApiKeyAuthentication`` (same headers, same errors) with successful lookups cached for a few seconds."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = self._raw_key(request)
        if raw is None:
            return None
        address = client_address(request._request)
        if address_cache.get(address) is None:
            api_key_guessing_check(request._request)  # raises Throttled for a locked-out address
            address_cache.put(address, True)
        digest = hashlib.sha256(raw.encode()).digest()
        cached = key_cache.get(digest)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        try:
            result = self._lookup(request, raw)
        except exceptions.AuthenticationFailed:  # a wrong or revoked key, counted: this may have locked it out
            address_cache.discard(address)
            raise
        key_cache.put(digest, result)
        return result
