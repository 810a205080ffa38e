"""Logs as users ship them: each real shipper (Debian's rsyslog with omelasticsearch, Debian's
syslog-ng with its http destination), with the configuration users get (deploy/rsyslog/,
deploy/syslog-ng/), sends RFC3164 syslog over TCP into a data stream of the session's engine,
under a site's own data-stream template; `colog setup` ran before; the worker enriches.

One host (`combo`, the Loghub Linux sample) with many programs interleaved: each program must be
its own stream, every document must end with a final status, the site's template must still
make the data stream, and where the node can run it the attached pipeline stamps
`event.ingested`, `colog.status` and the stream key.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from colog.core.fields import get_path
from colog.services.enrich.context import build_context
from colog.services.enrich.one_pass import run_pass
from colog.services.enrich.setup import PIPELINE, run_setup
from tests.fixtures.shippers import KINDS, shipping

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "benchmarks" / "data" / "loghub" / "Linux_2k.log"
LINES = 1000
PRI = b"<86>"  # authpriv.info: the sample's lines are RFC3164 without their priority
MAX_MESSAGE_BYTES = 2048
# Bad lines a shipper passes on: bytes that are not UTF-8 (rsyslog's mmutf8fix replaces them,
# syslog-ng's sanitize-utf8 escapes them), an empty message, a message over
# COLOG_MAX_MESSAGE_BYTES.
BAD_LINES = {
    "notutf8": PRI + b"Jul 10 10:00:00 combo notutf8[1]: caf\xc3 \xff\xfe session opened",
    "emptymsg": PRI + b"Jul 10 10:00:01 combo emptymsg[2]:",
    "hugemsg": PRI + b"Jul 10 10:00:02 combo hugemsg[3]: " + b"x" * 3000,
}


def sample_lines() -> list[bytes]:
    return [PRI + line for line in SAMPLE.read_bytes().splitlines()[:LINES]]


def documents(engine, index: str) -> list[dict]:
    engine.refresh(index)
    return engine.search({"size": 10000, "query": {"match_all": {}}}, index)["hits"]["hits"]


def drop_data_stream(engine, name: str, template: str) -> None:
    """OpenSearch deletes a data stream and then its template. Elasticsearch's minimal
    distribution has no data-stream API (module data-streams), and a template in use cannot be
    deleted: both stay, under this run's unique name."""
    try:
        engine.native.indices.delete_data_stream(name=name)
        engine.native.indices.delete_index_template(name=template)
    except Exception:  # noqa: BLE001 - see above
        pass


# How each shipper passes on an empty message: rsyslog sends "", syslog-ng (format-json
# --omit-empty-values) leaves the field out. Both end `skipped`, with the reason.
EMPTY_MESSAGE = {"rsyslog": "empty message", "syslog-ng": "no message field"}


@pytest.fixture(scope="module", params=sorted(KINDS))
def shipped(request, enrich_env, opensearch, tmp_path_factory):
    kind = KINDS[request.param]
    tag = uuid.uuid4().hex[:8]
    pattern, stream = f"logs-syslog{tag}-*", f"logs-syslog{tag}-default"
    site = f"site-syslog{tag}"
    opensearch.put_index_template(site, {
        "index_patterns": [pattern], "data_stream": {}, "priority": 100,
        "template": {"mappings": {"properties": {"site": {"properties": {
            "owner": {"type": "keyword"}}}}}}})
    settings = enrich_env.settings(pattern, max_message_bytes=MAX_MESSAGE_BYTES)
    setup = run_setup(opensearch, settings)
    lines = sample_lines() + list(BAD_LINES.values())
    started = time.perf_counter()
    with shipping(kind, settings.opensearch_url, stream,
                  tmp_path_factory.mktemp(kind.name)) as shipper:
        shipper.send(lines)
        deadline = time.monotonic() + 120
        count = 0
        while time.monotonic() < deadline:
            opensearch.refresh(stream)
            count = opensearch.count(stream, lenient=True)
            if count >= len(lines) or shipper.refused():
                break
            time.sleep(0.5)
        shipped_s = time.perf_counter() - started
        refused, log = shipper.refused(), shipper.log()
    before = {h["_id"]: h["_source"] for h in documents(opensearch, stream)}
    summary = run_pass(build_context(settings), flush=True, progress=False)
    after = documents(opensearch, stream)
    streams = {get_path(h["_source"], "colog.stream") for h in after}
    print(f"\n{kind.name} run on {opensearch.product} {opensearch.version()}: {len(lines)} lines "
          f"sent, {count} documents in {shipped_s:.1f}s; enrich pass: {summary.scored} scored "
          f"+ {summary.rejected} rejected in {summary.seconds:.1f}s "
          f"({summary.docs_per_second:.0f} docs/s, first pass), {len(streams)} streams")
    yield {"kind": kind.name, "stream": stream, "pattern": pattern, "setup": setup, "lines": lines,
           "count": count,
           "refused": refused, "log": log, "before": before, "after": after,
           "summary": summary, "streams": streams}
    drop_data_stream(opensearch, stream, site)


def test_the_shipper_shipped_every_line(shipped):
    assert shipped["refused"] == "", shipped["refused"][:2000]
    assert shipped["count"] == len(shipped["lines"]), shipped["log"][-2000:]


def test_the_site_template_still_makes_a_data_stream_with_the_colog_fields(shipped, opensearch):
    backing = opensearch.data_stream_of(shipped["stream"])
    assert backing and all(name.startswith(".ds-") for name in backing), backing
    assert set(backing.values()) == {shipped["stream"]}
    for name, body in opensearch.get_mapping(shipped["stream"]).items():
        properties = body["mappings"]["properties"]
        assert properties["site"]["properties"]["owner"] == {"type": "keyword"}, name
        assert properties["colog"]["properties"]["status"] == {"type": "keyword"}, name


def test_every_shipped_document_ends_final(shipped):
    summary = shipped["summary"]
    assert summary.still_pending == 0 and not summary.unwritten
    by_program = {}
    for hit in shipped["after"]:
        source = hit["_source"]
        program = get_path(source, "process.name")
        status, error = get_path(source, "colog.status"), get_path(source, "colog.error")
        by_program.setdefault(program, set()).add((status, error))
    assert by_program.pop("emptymsg") == {("skipped", EMPTY_MESSAGE[shipped["kind"]])}
    (status, error), = by_program.pop("hugemsg")
    assert status == "failed" and "over the limit" in error
    assert by_program.pop("notutf8") == {("enriched", None)}
    assert {status for pairs in by_program.values() for status, _ in pairs} == {"enriched"}


def test_one_stream_per_program(shipped):
    programs = set()
    for hit in shipped["after"]:
        source = hit["_source"]
        # A line without a tag (`combo  -- root[2421]: ...`) names no program: rsyslog sends
        # no process.name, and the host's untagged lines form the stream `combo|`; syslog-ng
        # takes `--` for the program.
        program = get_path(source, "process.name") or ""
        programs.add(program)
        assert get_path(source, "colog.stream") == f"combo|{program}", source
    assert len(programs) >= 10, programs  # the sample's programs plus the bad-line ones
    assert shipped["streams"] == {f"combo|{p}" for p in programs}


def test_the_attached_pipeline_stamped_each_document(shipped, opensearch):
    """Where the node runs ingest pipelines: event.ingested, pending and the stream key arrive
    with the document (before any worker saw it). Elsewhere setup said why, and nothing did."""
    can_run = {"set", "date", "script"} <= opensearch.ingest_processors()
    setup = shipped["setup"]
    if not can_run:
        assert any(PIPELINE in note and "not installed" in note for note in setup.notes), \
            setup.notes
        assert not any(get_path(s, "event.ingested") for s in shipped["before"].values())
        return
    settings = opensearch.get_index_settings(shipped["stream"])
    assert {s.get("index.final_pipeline") for s in settings.values()} == {PIPELINE}
    final_keys = {h["_id"]: get_path(h["_source"], "colog.stream") for h in shipped["after"]}
    for doc_id, source in shipped["before"].items():
        assert get_path(source, "event.ingested"), source
        assert get_path(source, "colog.status") == "pending"
        # The pipeline's key (Painless) is the worker's key (Python).
        assert get_path(source, "colog.stream") == final_keys[doc_id]
