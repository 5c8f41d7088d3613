"""nps-text: offline NPS survey text analytics.

Turns an NPS survey export (a 0-10 score plus an optional comment) into enriched tables, themes,
improvement areas and a report. Every stage (:mod:`nps_text.stages`) is a pure function on pandas DataFrames;
only :mod:`nps_text.ingest` and :mod:`nps_text.writers` touch files, and the Prefect flow
(:mod:`nps_text.flow`) wires the stages as tasks. Shared business rules: :mod:`nps_text.rules`.
"""

__version__ = "0.1.0"
