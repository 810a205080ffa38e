"""Write-back of `colog.*` fields: bulk partial updates guarded by `if_seq_no`/`if_primary_term`.

Per docs/design.md §9, bulk succeeds or fails per item, so every item's status is read:
- 200/201 (`updated` or `noop`): done;
- 409: the document changed since it was read. Re-read it: if another writer already gave it a
  final status, leave it (at-least-once delivery, idempotent effect); otherwise (an analyst set
  feedback meanwhile) retry against the new sequence number. The update is a partial `doc`
  merge under `colog`, so `colog.feedback.*` is never touched either way;
- 429 / 503: back off and retry, per item or for the whole request (a node whose write queue is
  full may reject the bulk request itself);
- 403 `cluster_block_exception` (an index write block, a read-only index after a disk flood):
  the index refuses every write for now, not this document. Back off and retry; if the block
  outlasts the retries the item is reported unwritten and stays pending (the next pass takes it
  once the block is lifted). Marking it `failed` would give a good verdict a final error state,
  and that write is refused by the same block anyway;
- 404: the document was deleted; counted, nothing to write;
- anything else: the item is retried once as `failed` with the error in `colog.error`, and if
  even that fails it is reported as unwritten (it stays pending: the next pass takes it again).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from colog.core.engine import SearchEngine
from colog.core.engine.errors import EngineError, NotFound
from colog.core.fields import FINAL_STATUSES, STATUS_FAILED

RETRYABLE = {429, 502, 503, 504}


@dataclass
class Update:
    index: str
    id: str
    seq_no: int
    primary_term: int
    colog: dict  # the `colog` sub-document to merge
    source: dict | None = None  # the document as read (for hooks); never written

    @property
    def status(self) -> str:
        return self.colog.get("status", "")


@dataclass
class WriteReport:
    written: Counter = field(default_factory=Counter)   # by colog.status
    noop: int = 0
    conflicts_resolved: int = 0
    already_final: int = 0
    deleted: int = 0
    retries: int = 0
    unwritten: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)

    def merge(self, other: "WriteReport") -> None:
        self.written.update(other.written)
        self.noop += other.noop
        self.conflicts_resolved += other.conflicts_resolved
        self.already_final += other.already_final
        self.deleted += other.deleted
        self.retries += other.retries
        self.unwritten.extend(other.unwritten)


def _action(update: Update) -> list[dict]:
    meta = {"_index": update.index, "_id": update.id, "if_seq_no": update.seq_no,
            "if_primary_term": update.primary_term}
    return [{"update": meta}, {"doc": {"colog": update.colog}}]


def _final_status(client: SearchEngine, update: Update) -> tuple[str | None, dict | None]:
    """(status, fresh doc) of a document after a conflict; (None, None) when it is gone."""
    try:
        fresh = client.get(update.index, update.id, source_includes=["colog.status"])
    except NotFound:
        return None, None
    status = ((fresh.get("_source") or {}).get("colog") or {}).get("status")
    return status, fresh


def write_updates(client: SearchEngine, updates: list[Update], max_attempts: int = 6,
                  backoff_s: float = 0.5, refresh: bool = False) -> WriteReport:
    report = WriteReport()
    todo = list(updates)
    attempt = 0
    last_reason: dict[str, str] = {}
    while todo:
        attempt += 1
        body = [line for update in todo for line in _action(update)]
        try:
            response = client.bulk(body, refresh=bool(refresh))
        except EngineError as error:
            if _http_status(error) not in RETRYABLE:
                raise
            # The whole request was refused (429 from a full write queue, 503): every item
            # is retried, as a per-item 429 would be.
            response = {"items": [{"update": {"status": _http_status(error)}} for _ in todo]}
        retry: list[Update] = []
        for update, item in zip(todo, response["items"]):
            result = item.get("update", {})
            code = int(result.get("status", 500))
            if code == 403 and _error_type(result) == "cluster_block_exception":
                code = 503  # the index is blocked, not this document: retry like a 503
            if code in (200, 201):
                if result.get("result") == "noop":
                    report.noop += 1
                else:
                    report.written[update.status] += 1
            elif code == 404:
                report.deleted += 1
            elif code == 409:
                status, fresh = _final_status(client, update)
                if fresh is None:
                    report.deleted += 1
                elif status in FINAL_STATUSES:
                    report.already_final += 1
                else:
                    report.conflicts_resolved += 1
                    retry.append(Update(update.index, update.id, int(fresh["_seq_no"]),
                                        int(fresh["_primary_term"]), update.colog))
            elif code in RETRYABLE:
                retry.append(update)
                # Kept for the report if the retries run out: the operator needs the cause
                # (an index block, a full write queue), not only that it gave up.
                last_reason[update.id] = _reason(result)
            else:
                reason = _reason(result)
                if update.status == STATUS_FAILED:
                    report.unwritten.append((update.id, reason))
                else:
                    retry.append(Update(update.index, update.id, update.seq_no,
                                        update.primary_term,
                                        {**_failure_fields(update.colog), "status": STATUS_FAILED,
                                         "error": f"write-back rejected: {reason}"[:2000]}))
        if retry and attempt >= max_attempts:
            report.unwritten.extend(
                (u.id, f"gave up after {attempt} attempts: {last_reason.get(u.id, 'retryable')}")
                for u in retry)
            break
        if retry:
            report.retries += len(retry)
            time.sleep(min(backoff_s * 2 ** (attempt - 1), 10.0))
        todo = retry
    return report


def _failure_fields(colog: dict) -> dict:
    """Keep only what is safe to write when the full verdict was rejected."""
    return {key: colog[key] for key in ("stream", "enriched_at") if key in colog}


def _reason(result: dict) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return str(error or f"status {result.get('status')}")


def _error_type(result: dict) -> str:
    error = result.get("error")
    return str(error.get("type", "")) if isinstance(error, dict) else ""


def _http_status(error: EngineError) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None
