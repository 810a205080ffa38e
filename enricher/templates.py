"""Drain3 templates shared by all workers: the miner's state lives in Redis.

Every worker must give a message the same template (ids only mean something within one Drain
state), so there is one state, in Redis, changed under a lock. Loading and saving it costs
~0.1-0.2 s for a few hundred templates, so each worker keeps its own copy and reloads only when
the shared version number moved, and saves only when a batch created or generalised a template
(cluster sizes drift between copies; they do not affect ids or texts).
"""

from __future__ import annotations

from collections.abc import Sequence

from colog.parsing.templates import TemplateParser


class TemplateStore:
    def __init__(self, redis_client=None, key: str = "colog:drain:state",
                 lock_timeout_s: float = 30):
        self.redis = redis_client
        self.key = key
        self.version_key = key + ":version"
        self.lock_key = key + ":lock"
        self.lock_timeout_s = lock_timeout_s
        self._parser = TemplateParser()
        self._version: bytes | None = None
        self._known: dict[str, str] = {}

    def _add_all(self, messages: Sequence[str]) -> tuple[list[tuple[str, str]], bool]:
        result, changed = [], False
        for message in messages:
            template_id, text = self._parser.add(message)
            if self._known.get(template_id) != text:
                self._known[template_id] = text
                changed = True
            result.append((template_id, text))
        return result, changed

    def assign(self, messages: Sequence[str]) -> list[tuple[str, str]]:
        """(template id, template text) for each raw message, learning new templates."""
        if not messages:
            return []
        if self.redis is None:
            return self._add_all(messages)[0]
        with self.redis.lock(self.lock_key, timeout=self.lock_timeout_s,
                             blocking_timeout=self.lock_timeout_s):
            version = self.redis.get(self.version_key)
            if version != self._version:
                raw = self.redis.get(self.key)
                self._parser = TemplateParser.from_bytes(raw) if raw else TemplateParser()
                self._known = self._parser.templates()
                self._version = version
            result, changed = self._add_all(messages)
            if changed:
                pipe = self.redis.pipeline()
                pipe.set(self.key, self._parser.to_bytes())
                pipe.incr(self.version_key)
                pipe.execute()
                self._version = str(int(version or 0) + 1).encode()
        return result
