"""The CoLog network, its config, and the self-contained model directory."""

from colog.core.model.config import ABLATIONS, ConfigError, ModelConfig
from colog.core.model.network import CoLog, CoLogOutput

__all__ = ["ABLATIONS", "CoLog", "CoLogOutput", "ConfigError", "ModelConfig"]
