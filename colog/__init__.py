"""CoLog for OpenSearch: shared core (settings, field schema, parsing, modalities, model)."""

__version__ = "0.1.0"
