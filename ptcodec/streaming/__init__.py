"""Adaptive streaming over rank ladders: ABR algorithms (`abr`), network traces and the
trace-driven simulator (`traces`, `simulate`), and DASH/HLS packaging (`package`).

Nothing here imports torch at module level: a simulator run over hundreds of traces, or a
packager that only cuts bytes, must not pay for a model it does not use.
"""
