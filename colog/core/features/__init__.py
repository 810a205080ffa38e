"""The two modalities of an event: semantic (its tokens) and sequence (its stream's window)."""
