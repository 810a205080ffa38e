"""Session fixtures live in tests/fixtures/, one module per real server."""

pytest_plugins = ["tests.fixtures.stack", "tests.fixtures.triton", "tests.fixtures.enrich"]
