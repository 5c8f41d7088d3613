"""nps-text: offline NPS survey text analytics.

Turns an NPS survey export (a 0-10 score plus an optional comment) into enriched tables, themes,
improvement areas and a report. Every step is a pure function on pandas DataFrames; only
:mod:`nps_text.ingest` and :mod:`nps_text.writers` touch files, and only :mod:`nps_text.flow` knows Prefect.
"""

__version__ = "0.1.0"
