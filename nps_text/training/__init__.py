"""Training code for our own models (not imported by the pipeline at run time)."""
