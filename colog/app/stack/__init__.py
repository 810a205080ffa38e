"""The local stack: real OpenSearch, Redis and Triton processes on one machine, no Docker.

Each component module (`opensearch`, `redis`, `triton`) exposes `start(settings)`,
`stop(settings)` and `status(settings)`; `manager` runs them together, `process` holds the
shared helpers (pid files, ports, logs, readiness).

What the minimal OpenSearch can do is asked at run time: `opensearch.capabilities(client)` and
`opensearch.require(client, feature)` (FeatureMissing says what to install).
"""
