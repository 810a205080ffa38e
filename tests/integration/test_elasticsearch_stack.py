"""The local Elasticsearch of `colog stack` (COLOG_ENGINE=elasticsearch): the node the session
started, its state per version, and what `colog setup` says about the ingest pipeline. Collected
only with COLOG_ENGINE=elasticsearch (tests/integration/conftest.py)."""

from __future__ import annotations

import pytest

from colog.app.stack import elasticsearch as es_stack
from colog.app.stack import manager, process

pytestmark = pytest.mark.integration


def test_the_stack_manager_starts_the_configured_engine(stack_settings):
    assert manager.parse_components(None, stack_settings.engine)[0] == "elasticsearch"
    assert manager.component("elasticsearch") is es_stack


def test_start_again_is_harmless_and_status_is_healthy(opensearch, stack_settings,
                                                       stack_started):
    before = process.running_pid(stack_settings, es_stack.NAME)
    if stack_started.get(es_stack.NAME):
        es_stack.start(stack_settings)
        assert process.running_pid(stack_settings, es_stack.NAME) == before
        record = es_stack.status(stack_settings)
        assert record["healthy"] and record["pid"] == before
    assert opensearch.native.cluster.health()["status"] in ("yellow", "green")


def test_data_lives_per_version(opensearch, stack_settings, stack_started):
    if not stack_started.get(es_stack.NAME):
        pytest.fail("this session did not start the node, so its data directory is not ours",
                    pytrace=False)
    state = process.state_dir(stack_settings, es_stack.NAME)
    data = es_stack.data_dir(stack_settings, state)
    assert data == state / "data" / stack_settings.elasticsearch_version
    assert any(data.iterdir()), "the node writes under the version's own data directory"


def test_setup_says_why_there_is_no_pipeline(opensearch, stack_settings):
    from colog.services.enrich.setup import run_setup

    report = run_setup(opensearch, stack_settings.model_copy(update={
        "index_pattern": "logs-esstack-*", "drift_index": "colog-drift-esstack"}))
    assert report.ok, report.conflicts
    names = report.created + report.updated + report.unchanged
    assert "component template colog-fields" in names and "index template colog" in names
    assert any("Elasticsearch's minimal distribution lacks it" in n for n in report.notes)
    opensearch.delete_index("colog-drift-esstack")
