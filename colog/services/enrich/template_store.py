"""Drain3 templates shared by all workers: the miner's state lives in Redis.

Every worker must give a message the same template (ids only mean something within one Drain
state), so there is one state, in Redis, changed under a lock. Each worker keeps its own copy.

The state is a snapshot (the whole miner, `<key>`) and a log of what changed since
(`<key>:log`, one entry per template created or generalised: colog/core/parsing/drain.py). A
batch that learnt something appends its changes; a worker whose copy is behind reads only the
entries it lacks. The whole miner is serialised only when a state starts, when the log grows
past `compact_after` entries (the log is then folded into a new snapshot) and when a state is
repaired. `<key>:version` names the snapshot: it moves only when a new one is written, and a
worker whose copy came from another snapshot reloads all of it. (Serialising the whole miner
after every batch that changed a template cost ~0.1-0.2 s per batch for a few hundred templates
and grew with the state: it made most of a first pass's parse time.) Cluster sizes are not
logged; they drift between copies and decide nothing (not ids, not texts).

When the shared state is damaged or gone, enrichment goes on and the ids keep their meaning as
far as anything can tell (tests/faults):
- gone while this worker holds a copy (Redis restarted without persistence): the copy is
  written back, so ids continue where they were;
- unreadable (corrupt snapshot or log entry): the bytes are kept under `<key>:corrupt` (the
  log under `<key>:corrupt:log`) for a post-mortem and the state is replaced by this worker's
  copy, or, if it has none, by a new empty state.
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

from colog.core.parsing.drain import TemplateParser, TemplateStateError, decode_change, encode_change

log = logging.getLogger(__name__)


class TemplateStore:
    def __init__(self, redis_client=None, key: str = "colog:drain:state",
                 lock_timeout_s: float = 30, compact_after: int = 2000):
        self.redis = redis_client
        self.key = key
        self.version_key = key + ":version"
        self.log_key = key + ":log"
        self.lock_key = key + ":lock"
        self.last_id_key = key + ":last_id"  # highest id ever given, kept beside the state
        self.corrupt_key = key + ":corrupt"
        self.lock_timeout_s = lock_timeout_s
        self.compact_after = compact_after
        self._parser = TemplateParser()
        self._version: bytes | None = None
        self._loaded = False  # this worker holds a copy of the shared state
        self._applied = 0  # entries of the shared log that this copy holds
        self._snapshot_due = False  # the shared snapshot is missing or damaged: write ours
        self.snapshots_written = 0  # whole-miner serialisations (the benchmark reports them)

    def _add_all(self, messages: Sequence[str]) -> list[tuple[str, str]]:
        return [self._parser.add(message) for message in messages]

    def assign(self, messages: Sequence[str]) -> list[tuple[str, str]]:
        """(template id, template text) for each raw message, learning new templates."""
        if not messages:
            return []
        if self.redis is None:
            result = self._add_all(messages)
            self._parser.take_changes()  # nobody to tell
            return result
        with self.redis.lock(self.lock_key, timeout=self.lock_timeout_s,
                             blocking_timeout=self.lock_timeout_s):
            version = self.redis.get(self.version_key)
            # Continue the version count of whichever state this worker last saw: a state
            # written back after a Redis restart must not reuse a version number that another
            # worker still holds for an older state.
            seen = max(_int_or_zero(version), _int_or_zero(self._version))
            length = self.redis.llen(self.log_key)
            if not self._loaded or version != self._version or length < self._applied:
                self._reload()
                self._version = version
            elif length > self._applied:
                self._catch_up()
            result = self._add_all(messages)
            changes = self._parser.take_changes()
            if self._snapshot_due or self._applied + len(changes) > self.compact_after:
                self._write_snapshot(seen + 1)
            elif changes:
                pipe = self.redis.pipeline()
                pipe.rpush(self.log_key, *(encode_change(c) for c in changes))
                pipe.set(self.last_id_key, self._parser.last_id)
                pipe.execute()
                self._applied += len(changes)
        return result

    def known_template(self, message: str) -> str | None:
        """The text of the template `message` fits in this worker's copy, learning nothing
        (an explanation names a neighbour's template without touching the shared state)."""
        found = self._parser.match(message)
        return None if found is None else found[1]

    def _write_snapshot(self, number: int) -> None:
        """Fold everything into a new snapshot: the whole miner, an empty log, a new version."""
        pipe = self.redis.pipeline()
        pipe.set(self.key, self._parser.to_bytes())
        pipe.delete(self.log_key)
        pipe.set(self.last_id_key, self._parser.last_id)
        pipe.set(self.version_key, number)
        pipe.execute()
        self._version = str(number).encode()
        self._applied = 0
        self._snapshot_due = False
        self.snapshots_written += 1

    def _catch_up(self) -> None:
        """Apply the log entries that other workers appended since this copy last saw it."""
        entries = self.redis.lrange(self.log_key, self._applied, -1)
        try:
            self._parser.apply_changes([decode_change(raw) for raw in entries])
        except TemplateStateError as error:
            self._reload()  # the log is damaged: the full reload keeps it and repairs
            log.debug("catch-up failed (%s); reloaded", error)
            return
        self._applied += len(entries)

    def _reload(self) -> None:
        """Take the shared state (snapshot and log); repair it when it is gone or damaged.

        New ids always start above the highest id this worker or the shared `last_id` has
        seen, so a repaired state never gives an id again that documents may carry."""
        raw = self.redis.get(self.key)
        entries = self.redis.lrange(self.log_key, 0, -1)
        had_copy = self._loaded
        self._loaded = True
        floor = max(self._parser.last_id, _int_or_zero(self.redis.get(self.last_id_key)))
        self._snapshot_due = False
        if raw is None and had_copy:
            log.warning("template state %s is gone from Redis (restarted without persistence?): "
                        "restored from this worker's copy (%d templates)", self.key,
                        len(self._parser))
            self._snapshot_due = True
        elif raw is None:
            self._parser = TemplateParser()  # a new state: the first batch writes its snapshot
            self._snapshot_due = True
        else:
            damaged = "snapshot"
            try:
                parser = TemplateParser.from_bytes(raw)
                damaged = "log"
                parser.apply_changes([decode_change(entry) for entry in entries])
                self._parser, self._applied = parser, len(entries)
            except TemplateStateError as error:
                self._keep_corrupt(raw, entries, damaged)
                if had_copy:
                    log.error("template state %s is unreadable (%s: %s); kept at %s, replaced "
                              "by this worker's copy (%d templates)", self.key, damaged, error,
                              self.corrupt_key, len(self._parser))
                else:
                    self._parser = TemplateParser()
                    log.error("template state %s is unreadable (%s: %s); kept at %s, started a "
                              "new state: templates are learnt again, with new ids above %d",
                              self.key, damaged, error, self.corrupt_key, floor)
                self._snapshot_due = True
        self._parser.take_changes()  # what replaying did is already in the shared state
        self._parser.last_id = floor  # never lowers it

    def _keep_corrupt(self, raw: bytes, entries: list[bytes], damaged_part: str) -> None:
        if damaged_part == "snapshot":
            self.redis.set(self.corrupt_key, raw)
        elif entries:
            pipe = self.redis.pipeline()
            pipe.delete(self.corrupt_key + ":log")
            pipe.rpush(self.corrupt_key + ":log", *entries)
            pipe.execute()


def _int_or_zero(raw) -> int:
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        return 0
