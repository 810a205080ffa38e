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

.PHONY: install demo test lint test-main main-suite main-faults test-matrix unit stack-up stack-down

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

# The whole suite on the default engine (part of `make test`), as two sessions side by side: the
# fault suite kills and restarts servers of its own (private node, Redis and Triton on their own
# ports), so it shares nothing with the rest but the distributions and the CPU.
MAIN_ENV := COLOG_ENGINE=opensearch COLOG_OPENSEARCH_VERSION=$(OPENSEARCH_2)
test-main:
	$(MAKE) -j2 --output-sync=target main-suite main-faults

main-suite:
	$(MAIN_ENV) $(PYTEST) tests --ignore=tests/faults

main-faults:
	$(MAIN_ENV) $(PYTEST) tests/faults

# The engine-facing modules on the other engines and versions (part of `make test`). The two
# passes run side by side, each with its own node, Redis and state (.cache/matrix/<pass>, which
# links the fetched distributions): most of a pass waits on its servers, so on two cores the
# pair takes little more than the longer one. --output-sync prints each pass whole.
MATRIX_PORTS_os3 := 9201 6380
MATRIX_PORTS_es9 := 9202 6381
test-matrix:
	$(MAKE) -j2 --output-sync=target matrix-os3 matrix-es9

matrix-%:
	@mkdir -p .cache/matrix/$*
	@for d in opensearch elasticsearch onnx; do ln -sfn ../../$$d .cache/matrix/$*/$$d; done
	COLOG_CACHE_DIR=$(CURDIR)/.cache/matrix/$* \
	COLOG_OPENSEARCH_URL=http://127.0.0.1:$(word 1,$(MATRIX_PORTS_$*)) \
	COLOG_REDIS_URL=redis://127.0.0.1:$(word 2,$(MATRIX_PORTS_$*))/0 \
	$(MATRIX_ENV_$*) $(PYTEST) $(ENGINE_TESTS) $(MATRIX_TESTS_$*)

MATRIX_ENV_os3 := COLOG_ENGINE=opensearch COLOG_OPENSEARCH_VERSION=$(OPENSEARCH_3)
MATRIX_TESTS_os3 := tests/integration/test_stack.py
MATRIX_ENV_es9 := COLOG_ENGINE=elasticsearch COLOG_ELASTICSEARCH_VERSION=$(ELASTICSEARCH_9)
MATRIX_TESTS_es9 := tests/integration/test_elasticsearch_stack.py

unit: install
	.venv/bin/python -m pytest tests/unit -q

stack-up: install
	.venv/bin/colog stack up

stack-down:
	.venv/bin/colog stack down
