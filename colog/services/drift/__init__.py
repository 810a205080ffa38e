"""Drift monitor: is today's traffic still what the live model was trained on?

measures.py (pure divergences and verdicts), profile.py (what the model saw in training),
windows.py (the recent and reference windows, aggregated by the engine), check.py (one check:
measure, record in `colog-drift`, raise the retrain flag).
"""
