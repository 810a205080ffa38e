"""The in-memory path of the shared template store (the Redis path runs in integration)."""

from colog.services.enrich.template_store import TemplateStore


def test_same_message_shape_gets_the_same_template_id():
    store = TemplateStore()
    first = store.assign(["connection from 10.0.0.1 accepted", "disk full on /dev/sda1"])
    again = store.assign(["connection from 10.0.0.7 accepted"])
    assert again[0][0] == first[0][0]
    assert first[1][0] != first[0][0]
    assert "<IP>" in again[0][1]
