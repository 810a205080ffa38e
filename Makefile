# Two commands for a newcomer: `make demo` runs the whole pipeline on bundled sample logs,
# `make test` installs everything and runs the whole test suite. Both start from nothing.
PY := .venv/bin/python
# The engine matrix: the whole suite runs on OpenSearch $(OPENSEARCH_2) (the default), then the
# engine-facing modules run again on OpenSearch $(OPENSEARCH_3) and Elasticsearch $(ELASTICSEARCH_9).
OPENSEARCH_2 := 2.19.1
OPENSEARCH_3 := 3.8.0
ELASTICSEARCH_9 := 9.1.0
ENGINE_TESTS := tests/integration/test_engine.py tests/integration/test_writer.py \
	tests/integration/test_incidents.py tests/integration/test_enrichment.py \
	tests/integration/test_feedback_loop.py tests/integration/test_drift.py \
	tests/integration/test_shadow.py tests/integration/test_two_class.py \
	tests/integration/test_partition_lease.py tests/integration/test_retrain_lock.py \
	tests/integration/test_shipped_logs.py tests/integration/test_data_streams.py
PYTEST := .venv/bin/python -m pytest -v --timeout=1800

.PHONY: install demo test lint test-main test-matrix unit stack-up stack-down

install:
	OPENSEARCH_2=$(OPENSEARCH_2) OPENSEARCH_3=$(OPENSEARCH_3) ELASTICSEARCH_9=$(ELASTICSEARCH_9) \
		bash deploy/local/install.sh

demo: install
	.venv/bin/colog demo

test: install
	$(MAKE) lint
	$(MAKE) test-main
	$(MAKE) test-matrix

# The structure checks: ruff, and the layers' import contracts (pyproject.toml; the picture is in
# docs/decisions.md, "One layered package").
lint:
	.venv/bin/ruff check .
	.venv/bin/lint-imports

# The whole suite on the default engine (part of `make test`).
test-main:
	COLOG_ENGINE=opensearch COLOG_OPENSEARCH_VERSION=$(OPENSEARCH_2) $(PYTEST) tests

# The engine-facing modules on the other engines and versions (part of `make test`), one pass
# after the other: run side by side on two cores they took longer (464 s against about 300 s),
# both being CPU-bound in their model work.
test-matrix:
	COLOG_ENGINE=opensearch COLOG_OPENSEARCH_VERSION=$(OPENSEARCH_3) \
		$(PYTEST) $(ENGINE_TESTS) tests/integration/test_stack.py
	COLOG_ENGINE=elasticsearch COLOG_ELASTICSEARCH_VERSION=$(ELASTICSEARCH_9) \
		$(PYTEST) $(ENGINE_TESTS) tests/integration/test_elasticsearch_stack.py

unit: install
	.venv/bin/python -m pytest tests/unit -q

stack-up: install
	.venv/bin/colog stack up

stack-down:
	.venv/bin/colog stack down
