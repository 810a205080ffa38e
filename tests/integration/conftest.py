"""Modules that belong to one engine's pass of `make test` only: the Elasticsearch stack module
is collected when COLOG_ENGINE=elasticsearch (the matrix pass for it), not skipped elsewhere."""

from colog.core.settings import Settings

collect_ignore = [] if Settings().engine == "elasticsearch" else ["test_elasticsearch_stack.py"]
