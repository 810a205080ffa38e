"""What `colog setup` puts: the component template, the catch-all template, the pipeline."""

from colog.core.fields import mapping_properties
from colog.core.settings import Settings
from colog.services.enrich.setup import (
    COMPONENT,
    FINAL_PIPELINE,
    PIPELINE,
    STREAM_SCRIPT,
    component_body,
    merge_into_site_component,
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


def test_merging_into_a_site_component_keeps_everything_of_the_site():
    site = {"template": {"mappings": {"properties": {
                "host": {"properties": {"name": {"type": "text"}, "ip": {"type": "ip"}}},
                "site": {"properties": {"owner": {"type": "keyword"}}}}},
                         "settings": {"index": {"refresh_interval": "5s"}}},
            "_meta": {"owner": "soc"}, "version": 3}
    merged, clashes = merge_into_site_component(site, with_pipeline=True)
    assert clashes == []
    properties = merged["template"]["mappings"]["properties"]
    assert properties["host"]["properties"] == {"name": {"type": "text"}, "ip": {"type": "ip"}}
    assert properties["site"] == site["template"]["mappings"]["properties"]["site"]
    assert properties["colog"] == mapping_properties()["colog"]
    assert merged["template"]["settings"]["index"] == {"refresh_interval": "5s",
                                                       "final_pipeline": PIPELINE}
    assert merged["_meta"] == {"owner": "soc"} and merged["version"] == 3
    assert site["template"]["mappings"]["properties"].get("colog") is None  # not mutated
    # Merging again finds nothing to add.
    assert merge_into_site_component(merged, with_pipeline=True) == (merged, [])


def test_a_site_final_pipeline_and_a_site_colog_mapping_are_never_replaced():
    site = {"template": {"settings": {"index.final_pipeline": "site-final"},
                         "mappings": {"properties": {"colog": {"properties": {
                             "score": {"type": "keyword"}}}}}}}
    merged, clashes = merge_into_site_component(site, with_pipeline=True)
    assert clashes == ["colog.score"]
    assert merged["template"]["settings"] == {"index.final_pipeline": "site-final"}
    assert merged["template"]["mappings"]["properties"]["colog"]["properties"]["score"] == {
        "type": "keyword"}
