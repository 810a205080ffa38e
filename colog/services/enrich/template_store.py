"""Drain3 templates shared by all workers: the miner's state lives in Redis.

Every worker must give a message the same template (ids only mean something within one Drain
state), so there is one state, in Redis, changed under a lock. Loading and saving it costs
~0.1-0.2 s for a few hundred templates, so each worker keeps its own copy and reloads only when
the shared version number moved, and saves only when a batch created or generalised a template
(cluster sizes drift between copies; they do not affect ids or texts).

When the shared state is damaged or gone, enrichment goes on and the ids keep their meaning as
far as anything can tell (tests/faults):
- gone while this worker holds a copy (Redis restarted without persistence): the copy is
  written back, so ids continue where they were;
- unreadable (corrupt bytes): the bytes are kept under `<key>:corrupt` for a post-mortem and
  the state is replaced by this worker's copy, or, if it has none, by a new empty state.
Either way new ids start above the highest id ever given (`<key>:last_id`, which only grows,
and this worker's own count), so no id is given to two templates. Each case is logged
(WARNING / ERROR) with the key. Templates that the copy lacks (learnt by another worker since
this one's last reload, or all of them in a new state) get new ids when they next occur. When
Redis loses everything, `last_id` goes too: another worker's newest ids may then be given
again, which is why production Redis keeps its data (AOF).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from colog.core.parsing.drain import TemplateParser, TemplateStateError

log = logging.getLogger(__name__)


class TemplateStore:
    def __init__(self, redis_client=None, key: str = "colog:drain:state",
                 lock_timeout_s: float = 30):
        self.redis = redis_client
        self.key = key
        self.version_key = key + ":version"
        self.lock_key = key + ":lock"
        self.last_id_key = key + ":last_id"  # highest id ever given, kept beside the state
        self.corrupt_key = key + ":corrupt"
        self.lock_timeout_s = lock_timeout_s
        self._parser = TemplateParser()
        self._version: bytes | None = None
        self._loaded = False  # this worker holds a copy of the shared state
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
            # Continue the version count of whichever state this worker last saw: a state
            # written back after a Redis restart must not reuse a version number that another
            # worker still holds for an older state.
            seen = max(_int_or_zero(version), _int_or_zero(self._version))
            repaired = False
            if not self._loaded or version != self._version:
                repaired = self._reload()
                self._version = version
            result, changed = self._add_all(messages)
            if changed or repaired:
                number = seen + 1
                pipe = self.redis.pipeline()
                pipe.set(self.key, self._parser.to_bytes())
                pipe.set(self.last_id_key, self._parser.last_id)
                pipe.set(self.version_key, number)
                pipe.execute()
                self._version = str(number).encode()
        return result

    def known_template(self, message: str) -> str | None:
        """The text of the template `message` fits in this worker's copy, learning nothing
        (an explanation names a neighbour's template without touching the shared state)."""
        found = self._parser.match(message)
        return None if found is None else found[1]

    def _reload(self) -> bool:
        """Take the shared state; True when it had to be repaired (and must be saved).

        New ids always start above the highest id this worker or the shared `last_id` has
        seen, so a repaired state never gives an id again that documents may carry."""
        raw = self.redis.get(self.key)
        had_copy = self._loaded
        self._loaded = True
        floor = max(self._parser.last_id, _int_or_zero(self.redis.get(self.last_id_key)))
        repaired = False
        if raw is None and had_copy:
            log.warning("template state %s is gone from Redis (restarted without persistence?): "
                        "restored from this worker's copy (%d templates)", self.key,
                        len(self._parser))
            repaired = True
        elif raw is None:
            self._parser = TemplateParser()
        else:
            try:
                self._parser = TemplateParser.from_bytes(raw)
            except TemplateStateError as error:
                self.redis.set(self.corrupt_key, raw)
                if had_copy:
                    log.error("template state %s is unreadable (%s); kept at %s, replaced by "
                              "this worker's copy (%d templates)", self.key, error,
                              self.corrupt_key, len(self._parser))
                else:
                    self._parser = TemplateParser()
                    log.error("template state %s is unreadable (%s); kept at %s, started a new "
                              "state: templates are learnt again, with new ids above %d",
                              self.key, error, self.corrupt_key, floor)
                repaired = True
        self._parser.last_id = floor  # never lowers it
        self._known = self._parser.templates()
        return repaired


def _int_or_zero(raw) -> int:
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        return 0
