"""Explanations of verdicts: whole words of the original message, the neighbour that mattered,
and one readable line (docs/explanations.md)."""
