"""Shadow evaluation: a candidate model scores live traffic beside the live one.

deployment.py (start, stop, promote: the candidate as its own Triton model) and report.py (what
the candidate would have changed, and both models on analyst labels). The workers' side is
colog/services/enrich/shadow_scoring.py.
"""
