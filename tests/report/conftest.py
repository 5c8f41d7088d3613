"""A small run for the report tests: 200 responses over 8 weeks, two segments, a drop, three unusable rows.

Built from the real code, not a copy of it: the synthetic export (``export.csv``) goes through the real flow
(:func:`nps_text.flow.nps_text_flow`: ingest, validation, comments, NPS, the tables, the manifest) with the model
stages off; the model outputs (sentiment, themes) are then set per comment, standing in for the models, and the
insights (improvement areas, follow-up, theme trends) come from the flow's own insights function. Every table is
checked against its contract (:func:`nps_text.schema.check_tables`), and the manifest is the one the flow wrote.
Comments mix German and English and include injection attempts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from nps_text.schema import check_tables
from nps_text.table_view import as_frame

SCRIPT_COMMENT = "Toller Laden <script>alert(1)</script> wirklich"
IMG_COMMENT = "Bad app <img src=x onerror=alert(2)> crashes"
FORMULA_COMMENT = "=HYPERLINK(\"http://evil.example\",\"click\")"
REJECTED_COMMENTS = ["-cmd", "+1 Punkt", "@everyone"]
"""The comments of the three unusable rows: they look like formulas, so the exports must keep them text."""

WEEKS = [f"2026-W{week:02d}" for week in range(7, 15)]
BRANCHES = ["Berlin", "Hamburg", "München"]
CHANNELS = ["app", "web", "store"]

DETRACTOR_THEMES = {
    0: ("Lieferzeit / delivery time", ["Die Lieferung hat zwei Wochen gedauert.", "Delivery took far too long."]),
    1: ("Preis / price", ["Viel zu teuer für die Qualität.", "Prices went up again, not worth it."]),
    2: ("Kundenservice / support", ["Niemand ruft zurück, Hotline ist eine Katastrophe.", "Support never answered my email."]),
}
PROMOTER_THEMES = {
    10: ("Freundliches Personal / friendly staff", ["Super freundliche Beratung in der Filiale!", "Staff were lovely and helpful."]),
    11: ("Qualität / quality", ["Top Qualität, hält ewig.", "Great quality, will buy again."]),
}
THEME_LABELS = {theme: label for theme, (label, _texts) in {**DETRACTOR_THEMES, **PROMOTER_THEMES}.items()}


def _export(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The survey export (what a customer's system writes) and, per response, what the models would say."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    number = 0
    for week_index, week in enumerate(WEEKS):
        crisis = week_index == len(WEEKS) - 1
        for _ in range(25):
            number += 1
            if crisis:
                score = int(rng.choice([0, 2, 3, 5, 6, 7, 8, 9, 10], p=[0.15, 0.15, 0.15, 0.15, 0.1, 0.1, 0.05, 0.1, 0.05]))
            else:
                score = int(rng.choice(range(11), p=[0.02, 0.02, 0.02, 0.03, 0.03, 0.04, 0.06, 0.1, 0.18, 0.25, 0.25]))
            roll = rng.random()
            kind = "text" if roll < 0.7 else "empty" if roll < 0.9 else "non_informative"
            comment: str | None = None
            theme_id: int | None = None
            if kind == "text":
                catalogue = PROMOTER_THEMES if score >= 9 else DETRACTOR_THEMES
                theme_id = int(rng.choice(list(catalogue)))
                comment = str(rng.choice(catalogue[theme_id][1]))
            elif kind == "non_informative":
                comment = str(rng.choice(["k.A.", "-", "nichts"]))
            # the sentiment model's answer: promoters positive, passives neutral, detractors negative
            sentiment = None
            if kind == "text":
                sentiment = "positive" if score >= 9 else "neutral" if score >= 7 else "negative"
            confidence = float(rng.uniform(0.6, 0.99)) if sentiment else None
            date = pd.Timestamp.fromisocalendar(2026, int(week[-2:]), 1 + number % 5)
            rows.append(
                {
                    "id": f"R{number:04d}",
                    "comment": comment,
                    "score": str(score),
                    "date": date.date().isoformat(),
                    "branch": str(rng.choice(BRANCHES)),
                    "channel": str(rng.choice(CHANNELS)),
                }
            )
            models.append({"response_id": f"R{number:04d}", "sentiment": sentiment, "confidence": confidence, "theme_id": theme_id})
    # Three hostile or tricky comments, in the first rows.
    for index, (comment, score, sentiment, theme_id) in enumerate(
        [(SCRIPT_COMMENT, 10, "positive", 10), (IMG_COMMENT, 1, "negative", 2), (FORMULA_COMMENT, 0, "negative", 1)]
    ):
        rows[index].update(comment=comment, score=str(score))
        models[index].update(sentiment=sentiment, confidence=0.9, theme_id=theme_id)
    # Three rows the validation rejects (score out of range, no score, a duplicate id), at the end.
    for response_id, score, comment in (("X1", "11", REJECTED_COMMENTS[0]), ("X2", "", REJECTED_COMMENTS[1]),
                                        ("R0005", "5", REJECTED_COMMENTS[2])):
        rows.append({"id": response_id, "comment": comment, "score": score, "date": "2026-04-01",
                     "branch": "Berlin", "channel": "app"})
    return pd.DataFrame(rows), pd.DataFrame(models)


def _run_flow(export: pd.DataFrame, folder: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The real flow on the export, model stages off: its tables and its manifest, as written."""
    from nps_text.flow import RunParameters, nps_text_flow

    source, config, out = folder / "export.csv", folder / "config.yaml", folder / "out"
    export.to_csv(source, index=False)
    config.write_text(yaml.safe_dump({
        "embeddings": {"model": "test-hashing"},
        "sentiment": {"enabled": False},
        "themes": {"enabled": False},
        "output": {"formats": ["parquet"]},
        "report": {"enabled": False},
    }))
    nps_text_flow(RunParameters(input=str(source), out=str(out), config=str(config)))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {path.stem: pd.read_parquet(path) for path in sorted(out.glob("*.parquet"))}, manifest


def _with_models(responses: pd.DataFrame, models: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(responses, sentences, themes)`` with the models' answers: one sentence per comment, one theme each."""
    models = models.set_index("response_id").reindex(responses["response_id"])
    text = (responses["comment_status"] == "text").to_numpy()
    theme_ids = models["theme_id"].where(text)
    responses = responses.assign(
        sentiment=models["sentiment"].where(text).to_numpy(),
        sentiment_confidence=models["confidence"].where(text).to_numpy(),
        theme_id=pd.array(theme_ids.to_numpy(), dtype="Int64"),
        theme_label=[THEME_LABELS.get(theme) if pd.notna(theme) else None for theme in theme_ids],
        theme_ids=[[int(theme)] if pd.notna(theme) else None for theme in theme_ids],
        theme_labels=[[THEME_LABELS[int(theme)]] if pd.notna(theme) else None for theme in theme_ids],
    )
    commented = responses[text]
    sentences = pd.DataFrame(
        {
            "response_id": commented["response_id"],
            "sentence_index": 0,
            "sentence": commented["comment"],
            "sentiment": commented["sentiment"],
            "confidence": commented["sentiment_confidence"],
            "theme_id": commented["theme_id"],
        }
    ).reset_index(drop=True)
    theme_rows = []
    for (nps_group, theme_id), part in commented.groupby(["nps_group", "theme_id"]):
        label = THEME_LABELS[int(theme_id)]
        sentiments = part["sentiment"].value_counts(normalize=True)
        theme_rows.append(
            {
                "nps_group": nps_group,
                "theme_id": int(theme_id),
                "theme_label": label,
                "keywords": label.lower().replace("/", " ").split()[:4],
                "size": len(part),
                "share_of_group": len(part) / int((responses["nps_group"] == nps_group).sum()),
                "positive_share": float(sentiments.get("positive", 0.0)),
                "neutral_share": float(sentiments.get("neutral", 0.0)),
                "negative_share": float(sentiments.get("negative", 0.0)),
                "representative_comments": list(dict.fromkeys(part["comment"]))[:3],
            }
        )
    return responses, sentences, pd.DataFrame(theme_rows)


def build_run(folder: Path, seed: int = 7) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Every table of a small, realistic run (checked against the contracts) and the manifest the flow wrote."""
    from nps_text.stages import insights

    export, models = _export(seed)
    tables, manifest = _run_flow(export, folder)
    responses, sentences, themes = _with_models(tables["responses"], models)
    found = insights.run(insights.InsightsInputs(responses, themes, sentences))  # the flow's insights stage
    checked = check_tables({**tables, "responses": responses, "sentences": sentences, "themes": themes, **found})
    return {name: as_frame(table) for name, table in checked.items()}, manifest  # follow_up: a view, as a frame


@pytest.fixture(scope="session")
def run_tables(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The small run's tables and manifest (treat as read-only)."""
    return build_run(tmp_path_factory.mktemp("report_run"))


@pytest.fixture
def run_dir(tmp_path: Path, run_tables: tuple[dict[str, pd.DataFrame], dict[str, Any]]) -> Path:
    """The small run written as a run folder: one Parquet file per table plus ``manifest.json``."""
    tables, manifest = run_tables
    folder = tmp_path / "run"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder
