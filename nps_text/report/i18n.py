"""UI text of the report in German and English: one small dict per language.

Placeholders use :meth:`str.format` names. Every language has the same keys (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

EN: dict[str, str] = {
    "title": "NPS report",
    "generated": "Generated {when}",
    "responses_n": "{n} responses",
    "period_span": "{first} to {last}",
    "toc": "Contents",
    # headline
    "headline": "Headline",
    "nps_overall": "Net Promoter Score",
    "ci": "{level}% confidence interval {low} to {high}",
    "ci_short": "{level}% CI",
    "latest_period": "Latest period {period}: NPS {nps} ({n} responses)",
    "change_drop_sig": "down {points} points vs. {previous} — a statistically significant drop (p = {p}).",
    "change_rise_sig": "up {points} points vs. {previous} — a statistically significant rise (p = {p}).",
    "change_not_sig": "{sign}{points} points vs. {previous} — within normal variation, not statistically significant (p = {p}).",
    "change_flat": "unchanged vs. {previous}.",
    "no_change": "Only one period in the data, so there is no change to compare.",
    "promoters": "Promoters",
    "passives": "Passives",
    "detractors": "Detractors",
    "segment_alerts": "Significant drops in the latest period",
    "segment_alert": "{segment} {value}: NPS {nps} ({change} points vs. {previous})",
    "rejected_note": "{n} input rows could not be used and are listed in the rejected table.",
    "no_nps": "No NPS figures are available for this run.",
    # trend
    "trend": "NPS over time",
    "trend_note": "The band is the {level}% confidence interval; red markers are statistically significant drops.",
    "trend_missing": "The data has no dates (or a single period), so there is no trend to show.",
    "trend_shown_last": "Showing the last {n} of {total} periods.",
    "significant_drop": "significant drop",
    "axis_nps": "NPS",
    "axis_period": "Period",
    "charts_unavailable": "Charts need the matplotlib package, which is not installed (pip install matplotlib).",
    "theme_trends": "Emerging and fading themes",
    "theme_trends_intro": "Share of detractors (with a comment) who raise each theme in {period} vs. {previous}, tested with a two-proportion z-test (significant at p < 0.05, at least 3 detractors). A detractor can raise several themes.",
    "theme_trends_summary": "{emerging} emerging, {fading} fading",
    "trend_emerging": "emerging",
    "trend_fading": "fading",
    "of_detractors": "{count} of {base}",
    "col_theme_share": "Share now",
    "col_theme_previous": "Before",
    "col_theme_change": "Change (pp)",
    "col_p": "p",
    # segments
    "segments": "NPS by segment",
    "segments_missing": "The data has no segment columns (such as branch, channel or product).",
    "segment_chart_note": "Bars show NPS with its {level}% confidence interval; n is the number of responses. The dashed line is the overall NPS.",
    "segment_capped": "Showing the {n} largest of {total} values.",
    # improvement areas
    "improvement": "Top improvement areas",
    "improvement_intro": "Themes detractors complain about, ranked by the NPS points they cost: the NPS would rise by the impact if these detractors became passives. A detractor counts for a theme only when what they say about it is negative; every theme a comment complains about counts, once per customer, so a detractor who names two problems counts for both and the shares can add up to more than 100%.",
    "polarity_mix": "{positive} positive, {negative} negative",
    "no_topic_note": "Not ranked: {n} detractors ({share}) name no specific topic (fillers, \"no reason\", insults), e.g. {examples}.",
    "improvement_missing": "Improvement areas are not part of this run (themes were not computed or no detractor left a comment).",
    "nps_impact": "NPS impact",
    "points": "{value} points",
    "share_of_detractors": "Share of detractors",
    "detractor_count": "{n} detractors",
    "trend_label": "Trend",
    "trend_rising": "rising",
    "trend_falling": "falling",
    "trend_stable": "stable",
    "trend_new": "new",
    "trend_points": "{value} pp vs. {previous}",
    "trend_points_only": "{value} pp",
    "emerging": "emerging",
    "trend_test_sig": "change significant (p = {p})",
    "trend_test_not_sig": "change not significant (p = {p})",
    "lift_sig": "detractors name it significantly more often than promoters (p = {p})",
    "lift_not_sig": "detractors do not name it significantly more often than promoters (p = {p})",
    "theme_other": "Other",
    "themes_too_few": "Too few comments to form themes ({n} with text): a theme needs several customers saying the same thing.",
    "not_available": "n/a",
    "quotes": "What customers said",
    # praise
    "praise": "What promoters praise",
    "praise_intro": "The largest themes in promoters' comments.",
    "praise_missing": "Themes are not part of this run, so promoters' praise cannot be grouped.",
    "praise_fallback": "Themes are not part of this run; here are a few promoters' comments.",
    "praise_none": "No promoter left a comment in this run.",
    "share_of_promoters": "{share} of promoters",
    "keywords": "Keywords",
    # coverage
    "coverage": "Comment coverage",
    "coverage_intro": "How many customers left a usable comment, per NPS group.",
    "status_text": "With text",
    "status_empty": "Empty",
    "status_non_informative": "Non-informative",
    "group": "Group",
    "responses": "Responses",
    "total": "All",
    # follow-up
    "follow_up": "Follow-up lists",
    "follow_up_intro": "Who to contact this week. The full lists are in the follow_up table of the exports (nps-text export RUN_DIR --format xlsx).",
    "follow_up_missing": "Follow-up lists are not part of this run.",
    "follow_up_call_back_detractor": "Call back detractors",
    "follow_up_convert_passive": "Convert passives",
    "follow_up_thank_promoter": "Thank promoters",
    "follow_up_no_comment": "No comment left",
    "follow_up_first": "First {shown} of {total}",
    "col_response_id": "Response",
    "col_score": "Score",
    "col_comment": "Comment",
    "col_theme": "Theme",
    "no_comment": "(no comment)",
    # footer
    "about": "About this run",
    "input": "Input",
    "rows": "Rows: {rows_in} in, {rows_valid} valid, {rows_rejected} rejected",
    "models": "Models",
    "model_sentiment": "sentiment",
    "model_themes": "themes",
    "model_embeddings": "embeddings",
    "model_encoder": "encoder {name}",
    "cache": "Cache",
    "cache_counts": "{hits} results reused, {misses} newly computed",
    "started": "Started",
}

DE: dict[str, str] = {
    "title": "NPS-Bericht",
    "generated": "Erstellt am {when}",
    "responses_n": "{n} Antworten",
    "period_span": "{first} bis {last}",
    "toc": "Inhalt",
    "headline": "Überblick",
    "nps_overall": "Net Promoter Score",
    "ci": "{level}-%-Konfidenzintervall {low} bis {high}",
    "ci_short": "{level}-%-KI",
    "latest_period": "Letzter Zeitraum {period}: NPS {nps} ({n} Antworten)",
    "change_drop_sig": "{points} Punkte weniger als {previous} — ein statistisch signifikanter Rückgang (p = {p}).",
    "change_rise_sig": "{points} Punkte mehr als {previous} — ein statistisch signifikanter Anstieg (p = {p}).",
    "change_not_sig": "{sign}{points} Punkte gegenüber {previous} — im Rahmen der normalen Schwankung, nicht statistisch signifikant (p = {p}).",
    "change_flat": "unverändert gegenüber {previous}.",
    "no_change": "Die Daten umfassen nur einen Zeitraum, daher gibt es keine Veränderung zum Vergleich.",
    "promoters": "Promotoren",
    "passives": "Passive",
    "detractors": "Detraktoren",
    "segment_alerts": "Signifikante Rückgänge im letzten Zeitraum",
    "segment_alert": "{segment} {value}: NPS {nps} ({change} Punkte gegenüber {previous})",
    "rejected_note": "{n} Eingabezeilen waren nicht verwendbar und stehen in der Tabelle rejected.",
    "no_nps": "Für diesen Lauf liegen keine NPS-Werte vor.",
    "trend": "NPS im Zeitverlauf",
    "trend_note": "Das Band ist das {level}-%-Konfidenzintervall; rote Markierungen sind statistisch signifikante Rückgänge.",
    "trend_missing": "Die Daten enthalten kein Datum (oder nur einen Zeitraum), daher gibt es keinen Verlauf.",
    "trend_shown_last": "Gezeigt werden die letzten {n} von {total} Zeiträumen.",
    "significant_drop": "signifikanter Rückgang",
    "axis_nps": "NPS",
    "axis_period": "Zeitraum",
    "charts_unavailable": "Diagramme brauchen das Paket matplotlib, das nicht installiert ist (pip install matplotlib).",
    "theme_trends": "Neu aufkommende und abklingende Themen",
    "theme_trends_intro": "Anteil der Detraktoren (mit Kommentar), die ein Thema nennen, in {period} gegenüber {previous}, geprüft mit einem Zwei-Stichproben-z-Test für Anteile (signifikant bei p < 0,05, mindestens 3 Detraktoren). Ein Detraktor kann mehrere Themen nennen.",
    "theme_trends_summary": "{emerging} neu aufkommend, {fading} abklingend",
    "trend_emerging": "neu aufkommend",
    "trend_fading": "abklingend",
    "of_detractors": "{count} von {base}",
    "col_theme_share": "Anteil jetzt",
    "col_theme_previous": "Vorher",
    "col_theme_change": "Veränderung (Pp.)",
    "col_p": "p",
    "segments": "NPS nach Segment",
    "segments_missing": "Die Daten enthalten keine Segmentspalten (etwa Filiale, Kanal oder Produkt).",
    "segment_chart_note": "Balken zeigen den NPS mit seinem {level}-%-Konfidenzintervall; n ist die Zahl der Antworten. Die gestrichelte Linie ist der Gesamt-NPS.",
    "segment_capped": "Gezeigt werden die {n} größten von {total} Werten.",
    "improvement": "Wichtigste Verbesserungsfelder",
    "improvement_intro": "Themen, über die sich Detraktoren beschweren, geordnet nach den NPS-Punkten, die sie kosten: Der NPS stiege um den Effekt, wenn diese Detraktoren zu Passiven würden. Ein Detraktor zählt für ein Thema nur, wenn er darüber Negatives sagt; jedes Thema, über das sich ein Kommentar beschwert, zählt, einmal je Kunde: Wer zwei Probleme nennt, zählt für beide, daher können die Anteile zusammen mehr als 100 % ergeben.",
    "polarity_mix": "{positive} positiv, {negative} negativ",
    "no_topic_note": "Nicht gereiht: {n} Detraktoren ({share}) nennen kein bestimmtes Thema (Füllwörter, „kein Grund“, Beschimpfungen), z. B. {examples}.",
    "improvement_missing": "Verbesserungsfelder sind nicht Teil dieses Laufs (keine Themen berechnet oder kein Detraktor hat kommentiert).",
    "nps_impact": "NPS-Effekt",
    "points": "{value} Punkte",
    "share_of_detractors": "Anteil der Detraktoren",
    "detractor_count": "{n} Detraktoren",
    "trend_label": "Trend",
    "trend_rising": "steigend",
    "trend_falling": "fallend",
    "trend_stable": "stabil",
    "trend_new": "neu",
    "trend_points": "{value} Pp. ggü. {previous}",
    "trend_points_only": "{value} Pp.",
    "emerging": "neu aufkommend",
    "trend_test_sig": "Veränderung signifikant (p = {p})",
    "trend_test_not_sig": "Veränderung nicht signifikant (p = {p})",
    "lift_sig": "Detraktoren nennen es signifikant häufiger als Promotoren (p = {p})",
    "lift_not_sig": "Detraktoren nennen es nicht signifikant häufiger als Promotoren (p = {p})",
    "theme_other": "Sonstiges",
    "themes_too_few": "Zu wenige Kommentare für Themen ({n} mit Text): Ein Thema braucht mehrere Kunden, die dasselbe sagen.",
    "not_available": "k. A.",
    "quotes": "Was Kunden sagen",
    "praise": "Was Promotoren loben",
    "praise_intro": "Die größten Themen in den Kommentaren der Promotoren.",
    "praise_missing": "Themen sind nicht Teil dieses Laufs, daher lässt sich das Lob nicht gruppieren.",
    "praise_fallback": "Themen sind nicht Teil dieses Laufs; hier einige Kommentare von Promotoren.",
    "praise_none": "In diesem Lauf hat kein Promotor einen Kommentar hinterlassen.",
    "share_of_promoters": "{share} der Promotoren",
    "keywords": "Stichwörter",
    "coverage": "Kommentarabdeckung",
    "coverage_intro": "Wie viele Kunden einen verwertbaren Kommentar hinterlassen haben, je NPS-Gruppe.",
    "status_text": "Mit Text",
    "status_empty": "Leer",
    "status_non_informative": "Nicht aussagekräftig",
    "group": "Gruppe",
    "responses": "Antworten",
    "total": "Alle",
    "follow_up": "Nachfasslisten",
    "follow_up_intro": "Wen Sie diese Woche kontaktieren sollten. Die vollständigen Listen stehen in der Tabelle follow_up der Exporte (nps-text export RUN_DIR --format xlsx).",
    "follow_up_missing": "Nachfasslisten sind nicht Teil dieses Laufs.",
    "follow_up_call_back_detractor": "Detraktoren zurückrufen",
    "follow_up_convert_passive": "Passive überzeugen",
    "follow_up_thank_promoter": "Promotoren danken",
    "follow_up_no_comment": "Ohne Kommentar",
    "follow_up_first": "Erste {shown} von {total}",
    "col_response_id": "Antwort",
    "col_score": "Wert",
    "col_comment": "Kommentar",
    "col_theme": "Thema",
    "no_comment": "(kein Kommentar)",
    "about": "Über diesen Lauf",
    "input": "Eingabe",
    "rows": "Zeilen: {rows_in} gelesen, {rows_valid} gültig, {rows_rejected} abgelehnt",
    "models": "Modelle",
    "model_sentiment": "Stimmung",
    "model_themes": "Themen",
    "model_embeddings": "Texteinbettung",
    "model_encoder": "Encoder {name}",
    "cache": "Cache",
    "cache_counts": "{hits} Ergebnisse wiederverwendet, {misses} neu berechnet",
    "started": "Gestartet",
}

TRANSLATIONS: dict[str, dict[str, str]] = {"en": EN, "de": DE}


def choose_language(configured: str, responses: pd.DataFrame | None) -> str:
    """Resolve ``auto`` to the main language of the comments (German or English; English otherwise).

    Example:
        >>> choose_language("auto", pd.DataFrame({"language": ["de", "de", "en"]}))
        'de'
    """
    if configured in TRANSLATIONS:
        return configured
    if responses is None or "language" not in responses.columns:
        return "en"
    per_value = responses["language"].value_counts(sort=False)  # a few distinct values, not a string per row
    codes = pd.Series(per_value.to_numpy(), index=per_value.index.astype(str).str.lower().str[:2])
    counts = codes[codes.index.isin(list(TRANSLATIONS))].groupby(level=0, sort=False).sum()
    if counts.empty:
        return "en"
    return str(counts.sort_values(ascending=False, kind="stable").index[0])


def format_number(value: float, language: str, decimals: int = 1) -> str:
    """Format a number with the language's decimal separator (``12.5`` / ``12,5``); minus as U+2212."""
    text = f"{value:,.{decimals}f}"
    text = text.replace(",", "\u2009")
    if language == "de":
        text = text.replace(".", ",")
    return text.replace("-", "\u2212")


def format_percent(share: float, language: str) -> str:
    """Format a share (0-1) as a whole percentage: ``0.253`` -> ``25%`` / ``25 %``."""
    value = f"{100 * share:.0f}"
    return f"{value}\u00a0%" if language == "de" else f"{value}%"


def translator(language: str) -> Mapping[str, str]:
    """The UI text dict of ``language`` (falls back to English)."""
    return TRANSLATIONS.get(language, EN)
