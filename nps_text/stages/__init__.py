"""The pipeline's stages, one module per arrow of the design, in the order a run takes them (:data:`STAGES`).

Each stage module exposes ``run(inputs, section, edges)``: pure on tables, given only its own config section;
``edges`` (:class:`nps_text.stages.edges.RunEdges`) carries what touches the outside: the result store, the
theme state, the pseudonym key, and ``map_chunks`` for chunked model work. No stage imports Prefect:
:mod:`nps_text.flow` wraps them as tasks.

- :mod:`~nps_text.stages.ingest`: read the export (any format) into a text frame;
- :mod:`~nps_text.stages.validate`: map columns, split valid and rejected rows, personal data out (privacy);
- :mod:`~nps_text.stages.comments`: comment status, language, PII redaction;
- :mod:`~nps_text.stages.nps`: NPS groups, periods, the summary and its changes;
- :mod:`~nps_text.stages.sentiment`: sentiment per comment and per sentence (chunks of distinct texts);
- :mod:`~nps_text.stages.themes`: embeddings (chunked) and themes per comment and sentence;
- :mod:`~nps_text.stages.insights`: improvement areas, follow-up list, theme trends;
- :mod:`~nps_text.stages.write`: the tables in the configured formats and the report.
"""

STAGES = ("ingest", "validate", "comments", "nps", "sentiment", "themes", "insights", "write")
"""The stages in the order a run takes them (privacy is part of validate)."""
