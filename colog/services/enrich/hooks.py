"""What runs after a batch of verdicts is written (collective incidents)."""

from __future__ import annotations

from colog.core.fields import STATUS_ENRICHED


def incidents_hook(ctx, stream, updates, report) -> None:
    """Merge the batch's enriched events into the stream's collective incidents."""
    from colog.services.enrich.incidents import update_incidents

    events = [{"_id": u.id, "_index": u.index,
               "_source": {**(u.source or {}), "colog": {**((u.source or {}).get("colog") or {}),
                                                         **u.colog}}}
              for u in updates if u.status == STATUS_ENRICHED]
    if events:
        update_incidents(ctx.client, ctx.settings, stream.key, events)


def default_hooks() -> list:
    return [incidents_hook]
