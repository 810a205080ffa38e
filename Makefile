# Two commands for a newcomer: `make demo` runs the whole pipeline on bundled sample logs,
# `make test` installs everything and runs the whole test suite. Both start from nothing.
PY := .venv/bin/python

.PHONY: install demo test unit stack-up stack-down

install:
	bash deploy/local/install.sh

demo: install
	.venv/bin/colog demo

test: install
	.venv/bin/python -m pytest tests -v --timeout=1800

unit: install
	.venv/bin/python -m pytest tests/unit -q

stack-up: install
	.venv/bin/colog stack up

stack-down:
	.venv/bin/colog stack down
