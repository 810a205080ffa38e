"""Serving the CoLog model from Triton: the live model repository and the client."""
