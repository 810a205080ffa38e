"""What `colog setup` puts: the component template, the catch-all template, the pipeline."""

from colog.core.settings import Settings
from colog.services.enrich.setup import (
    COMPONENT,
    FINAL_PIPELINE,
    PIPELINE,
    STREAM_SCRIPT,
    component_body,
    overlaps,
    pipeline_body,
    template_body,
)


def test_the_pipeline_is_attached_only_when_it_is_installed():
    assert "settings" not in component_body(with_pipeline=False)["template"]
    settings = component_body(with_pipeline=True)["template"]["settings"]
    assert settings == {"index": {"final_pipeline": PIPELINE}}
    assert FINAL_PIPELINE == "index.final_pipeline"  # the flat name existing indices answer


def test_the_catch_all_template_stays_below_the_sites_templates():
    body = template_body("logs-*")
    assert body["composed_of"] == [COMPONENT] and body["priority"] < 100
    assert "data_stream" not in body  # never decides on its own what a data stream is


def test_pattern_overlap():
    assert overlaps(["logs-*-*"], "logs-*") and overlaps(["logs-app-*"], "logs-*")
    assert overlaps(["logs-*"], "logs-app-*")
    assert not overlaps(["metrics-*"], "logs-*")


def test_the_pipeline_needs_no_template_engine_and_carries_the_configured_key():
    settings = Settings(stream_fields="host.name", stream_fallback_fields="process.name,x.y")
    body = pipeline_body(settings, with_stream=True)
    kinds = [next(iter(p)) for p in body["processors"]]
    assert kinds == ["set", "date", "script"]
    assert "{{" not in str(body["processors"][:2])  # mustache is absent on minimal nodes
    params = body["processors"][2]["script"]["params"]
    assert params == {"fields": ["host.name"], "fallback": ["process.name", "x.y"]}
    assert "ctx.colog.stream = key" in STREAM_SCRIPT
    assert [next(iter(p)) for p in pipeline_body(settings, False)["processors"]] == ["set", "date"]
