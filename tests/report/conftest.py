"""A realistic small run for the report tests: ~200 responses over 8 weeks, two segments, a drop.

The tables follow the contracts in :mod:`nps_text.schema` so the report is developed against the same
shapes the real pipeline writes. Comments mix German and English and include two injection attempts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nps_text.insights import theme_trends

SCRIPT_COMMENT = "Toller Laden <script>alert(1)</script> wirklich"
IMG_COMMENT = "Bad app <img src=x onerror=alert(2)> crashes"
FORMULA_COMMENT = "=HYPERLINK(\"http://evil.example\",\"click\")"

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


def _nps(promoters: int, detractors: int, total: int) -> tuple[float, float, float]:
    if total == 0:
        return (float("nan"),) * 3
    p, d = promoters / total, detractors / total
    nps = 100 * (p - d)
    variance = (p + d - (p - d) ** 2) / total
    margin = 100 * 1.96 * math.sqrt(max(variance, 0.0))
    return nps, nps - margin, nps + margin


def _summarise(responses: pd.DataFrame, segments: list[str]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    groupings: list[tuple[str, pd.Series]] = [("all", pd.Series("all", index=responses.index))]
    groupings += [(segment, responses[segment]) for segment in segments]
    for segment, keys in groupings:
        for value, frame in responses.groupby(keys):
            for period, part in [("all", frame), *frame.groupby("period")]:
                counts = part["nps_group"].value_counts()
                n = len(part)
                nps, low, high = _nps(int(counts.get("promoter", 0)), int(counts.get("detractor", 0)), n)
                rows.append(
                    {
                        "segment": segment,
                        "segment_value": str(value),
                        "period": str(period),
                        "responses": n,
                        "promoters": int(counts.get("promoter", 0)),
                        "passives": int(counts.get("passive", 0)),
                        "detractors": int(counts.get("detractor", 0)),
                        "nps": nps,
                        "nps_ci_low": low,
                        "nps_ci_high": high,
                    }
                )
    return pd.DataFrame(rows)


def _changes(summary: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    by_period = summary[summary["period"] != "all"].sort_values("period")
    for (segment, value), frame in by_period.groupby(["segment", "segment_value"]):
        records = frame.to_dict("records")
        for previous, current in zip(records, records[1:], strict=False):
            change = current["nps"] - previous["nps"]
            se = math.sqrt(
                ((current["nps_ci_high"] - current["nps"]) / 1.96) ** 2
                + ((previous["nps_ci_high"] - previous["nps"]) / 1.96) ** 2
            ) or 1.0
            z = change / se
            p_value = math.erfc(abs(z) / math.sqrt(2))
            significant = p_value < 0.05
            rows.append(
                {
                    "segment": segment,
                    "segment_value": value,
                    "period": current["period"],
                    "previous_period": previous["period"],
                    "nps": current["nps"],
                    "previous_nps": previous["nps"],
                    "change": change,
                    "p_value": p_value,
                    "significant": significant,
                    "direction": ("drop" if change < 0 else "rise") if significant else "none",
                }
            )
    return pd.DataFrame(rows)


def build_run(seed: int = 7) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Build every table of a small, realistic run plus its manifest."""
    rng = np.random.default_rng(seed)
    records: list[dict[str, Any]] = []
    response_number = 0
    for week_index, week in enumerate(WEEKS):
        crisis = week_index == len(WEEKS) - 1
        for _ in range(25):
            response_number += 1
            if crisis:
                score = int(rng.choice([0, 2, 3, 5, 6, 7, 8, 9, 10], p=[0.15, 0.15, 0.15, 0.15, 0.1, 0.1, 0.05, 0.1, 0.05]))
            else:
                score = int(rng.choice(range(11), p=[0.02, 0.02, 0.02, 0.03, 0.03, 0.04, 0.06, 0.1, 0.18, 0.25, 0.25]))
            group = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            roll = rng.random()
            status = "text" if roll < 0.7 else "empty" if roll < 0.9 else "non_informative"
            comment: str | None
            theme_id: int | None = None
            theme_label: str | None = None
            if status == "text":
                catalogue = DETRACTOR_THEMES if group != "promoter" else PROMOTER_THEMES
                theme_id = int(rng.choice(list(catalogue)))
                theme_label, texts = catalogue[theme_id]
                comment = str(rng.choice(texts))
            elif status == "non_informative":
                comment = str(rng.choice(["k.A.", "-", "nichts"]))
            else:
                comment = None
            sentiment = None
            if status == "text":
                sentiment = "positive" if group == "promoter" else "negative" if group == "detractor" else "neutral"
            date = pd.Timestamp.fromisocalendar(2026, int(week[-2:]), 1 + response_number % 5)
            records.append(
                {
                    "response_id": f"R{response_number:04d}",
                    "score": score,
                    "nps_group": group,
                    "comment": comment,
                    "comment_status": status,
                    "language": "de" if comment and any(ch in comment for ch in "äöüß") or (comment or "").startswith(("Die", "Viel", "Niemand", "Super", "Top", "Toller", "k.A.", "nichts")) else ("en" if comment else None),
                    "sentiment": sentiment,
                    "sentiment_confidence": float(rng.uniform(0.6, 0.99)) if sentiment else None,
                    "theme_id": theme_id,
                    "theme_label": theme_label,
                    "period": week,
                    "date": date,
                    "branch": str(rng.choice(BRANCHES)),
                    "channel": str(rng.choice(CHANNELS)),
                }
            )
    # Three hostile or tricky comments, at fixed rows.
    overrides: list[dict[str, Any]] = [
        {"comment": SCRIPT_COMMENT, "language": "de", "sentiment": "positive", "theme_id": 10, "score": 10,
         "nps_group": "promoter", "theme_label": PROMOTER_THEMES[10][0]},
        {"comment": IMG_COMMENT, "language": "en", "sentiment": "negative", "theme_id": 2, "score": 1,
         "nps_group": "detractor", "theme_label": DETRACTOR_THEMES[2][0]},
        {"comment": FORMULA_COMMENT, "language": "en", "sentiment": "negative", "theme_id": 1, "score": 0,
         "nps_group": "detractor", "theme_label": DETRACTOR_THEMES[1][0]},
    ]
    for record, override in zip(records, overrides, strict=False):
        record.update(override, comment_status="text", sentiment_confidence=0.9)
    responses = pd.DataFrame(records)
    responses["theme_id"] = responses["theme_id"].astype("Int64")
    responses["score"] = responses["score"].astype("int64")

    summary = _summarise(responses, ["branch", "channel"])
    changes = _changes(summary)

    theme_rows = []
    for nps_group, frame in responses[responses["comment_status"] == "text"].groupby("nps_group"):
        group_size = int((responses["nps_group"] == nps_group).sum())
        for (group_theme_id, group_label), part in frame.groupby(["theme_id", "theme_label"]):
            label = str(group_label)
            sentiments = part["sentiment"].value_counts(normalize=True)
            theme_rows.append(
                {
                    "nps_group": nps_group,
                    "theme_id": int(str(group_theme_id)),
                    "theme_label": label,
                    "keywords": label.lower().replace("/", " ").split()[:4],
                    "size": len(part),
                    "share_of_group": len(part) / group_size,
                    "positive_share": float(sentiments.get("positive", 0.0)),
                    "neutral_share": float(sentiments.get("neutral", 0.0)),
                    "negative_share": float(sentiments.get("negative", 0.0)),
                    "representative_comments": list(dict.fromkeys(part["comment"]))[:3],
                }
            )
    themes = pd.DataFrame(theme_rows)

    detractors = responses[responses["nps_group"] == "detractor"]
    total = len(responses)
    areas = []
    for theme_id, (label, _texts) in DETRACTOR_THEMES.items():
        part = detractors[detractors["theme_id"] == theme_id]
        areas.append(
            {
                "theme_id": theme_id,
                "theme_label": label,
                "detractor_count": len(part),
                "share_of_detractors": len(part) / max(len(detractors), 1),
                "nps_impact": 100 * len(part) / total,
                "example_comments": list(dict.fromkeys(part["comment"]))[:3],
                "nps_without_theme": 20.0 + theme_id,
                "lift": 1.5 + theme_id / 10,
                "p_value": 0.01 * (theme_id + 1),
                "significant": theme_id < 2,
                "current_period": WEEKS[-1],
                "previous_period": WEEKS[-2],
                "trend": [12.5, 0.2, -4.0][theme_id],
                "emerging": theme_id == 0,
            }
        )
    improvement_areas = pd.DataFrame(areas).sort_values("nps_impact", ascending=False).reset_index(drop=True)
    improvement_areas.insert(0, "rank", range(1, len(improvement_areas) + 1))

    def follow_up_kind(row: pd.Series) -> str:
        if row["comment_status"] != "text":
            return "no_comment"
        return {"detractor": "call_back_detractor", "passive": "convert_passive", "promoter": "thank_promoter"}[
            row["nps_group"]
        ]

    follow_up = responses.assign(follow_up=responses.apply(follow_up_kind, axis=1))[
        ["follow_up", "response_id", "score", "nps_group", "comment_status", "comment", "theme_label", "branch", "channel"]
    ].sort_values(["follow_up", "score"])

    sentences = responses[responses["comment_status"] == "text"][["response_id", "comment", "sentiment", "sentiment_confidence"]]
    sentences = sentences.rename(columns={"comment": "sentence", "sentiment_confidence": "confidence"})
    sentences.insert(1, "sentence_index", 0)

    rejected = pd.DataFrame(
        {
            "row_number": [12, 57, 190],
            "response_id": ["X1", "X2", None],
            "reason": ["score 11 is out of range 0-10", "score is missing", "duplicate response_id"],
            "Score": ["11", "", "5"],
            "Kommentar": ["-cmd", "+49 30 1234", "@everyone"],
        }
    )

    counts = responses["comment_status"].value_counts()
    manifest: dict[str, Any] = {
        "input": {"path": "data/demo_de.csv", "sha256": "ab" * 32},
        "rows_in": len(responses) + len(rejected),
        "rows_valid": len(responses),
        "rows_rejected": len(rejected),
        "comment_status_counts": {status: int(counts.get(status, 0)) for status in ("text", "empty", "non_informative")},
        "models": {"embeddings": "e5-small", "sentiment": "nps-sentiment-e5-small"},
        "timings": {"ingest": 0.1, "nps": 0.02, "sentiment": 3.2, "themes": 8.4},
        "started_at": "2026-04-06T07:00:00+00:00",
    }
    tables: dict[str, pd.DataFrame] = {
        "responses": responses,
        "nps_summary": summary,
        "nps_changes": changes,
        "themes": themes,
        "improvement_areas": improvement_areas,
        "theme_trends": theme_trends(responses),
        "follow_up": follow_up.reset_index(drop=True),
        "sentences": sentences.reset_index(drop=True),
        "rejected": rejected,
    }
    return tables, manifest


@pytest.fixture(scope="session")
def run_tables() -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The small run's tables and manifest (treat as read-only)."""
    return build_run()


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
