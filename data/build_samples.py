"""Build the two bundled sample inputs in ``data/`` reproducibly (seeded).

1. ``sample_reviews_en.csv``: 3,000 rows sampled (seed 42) from the CC0 "Women's E-Commerce Clothing
   Reviews" data set (``../shared/data/womens_clothing_reviews/reviews.csv``), empty review texts kept.
   The source has a 1-5 star ``Rating`` and no NPS score and no date, so we add:
     * ``score`` (0-10) mapped from the stars: 5 -> 10, 4 -> 8, 3 -> 6, 2 -> 3, 1 -> 0
       (so 5 stars = promoter, 4 = passive, 1-3 = detractor; ``Recommended IND`` is kept as it was);
     * ``date``: synthetic, spread over 12 weeks from 2026-01-05 by a seeded random draw (demo only);
     * ``response_id``: ``wcr-<source row>``.
2. ``demo_de.csv``: 600 German (and some English) NPS responses written for this project: semicolon-
   separated, Windows-1252 encoded and with ``dd.mm.yyyy`` dates, as German Excel exports them; branches,
   channels, a few bad rows, personal data to redact, and a data leak in week 9 after which NPS drops.

Run: ``python data/build_samples.py`` (needs ../shared/data for the English sample).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "womens_clothing_reviews" / "reviews.csv"
STAR_TO_SCORE = {5: 10, 4: 8, 3: 6, 2: 3, 1: 0}


def build_english(rows: int = 3000, seed: int = 42) -> pd.DataFrame:
    source = pd.read_csv(SHARED, dtype={"Review Text": "string", "Title": "string"})
    source = source.rename(columns={source.columns[0]: "source_row"})
    sample = source.sample(n=rows, random_state=seed).sort_values("source_row")
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-05")
    days = rng.integers(0, 84, size=len(sample))
    return pd.DataFrame(
        {
            "response_id": "wcr-" + sample["source_row"].astype(str),
            "date": [(start + pd.Timedelta(days=int(d))).date().isoformat() for d in days],
            "score": sample["Rating"].map(STAR_TO_SCORE).astype(int),
            "Review Text": sample["Review Text"],
            "Title": sample["Title"],
            "Rating": sample["Rating"],
            "Recommended IND": sample["Recommended IND"],
            "Age": sample["Age"],
            "Division Name": sample["Division Name"],
            "Department Name": sample["Department Name"],
            "Class Name": sample["Class Name"],
        }
    )


POSITIVE = {
    "Beratung": ["Die Beratung in der Filiale war super freundlich und kompetent.",
                 "Sehr nette Mitarbeiterin, hat sich viel Zeit für mich genommen.",
                 "Top Beratung, ich komme gerne wieder!", "Kompetente Beratung, alle Fragen wurden beantwortet."],
    "Lieferung": ["Die Lieferung kam schon am nächsten Tag, klasse!", "Schneller Versand und gut verpackt.",
                  "Paket war pünktlich da, alles bestens.", "Fast delivery, everything arrived in perfect condition."],
    "Qualität": ["Die Qualität der Produkte ist hervorragend.", "Sehr gute Qualität, hält schon seit Jahren.",
                 "Great quality for the price."],
    "App": ["Die App ist übersichtlich und einfach zu bedienen.", "Online-Bestellung ging schnell und unkompliziert."],
    "Preis": ["Faire Preise und regelmäßig gute Angebote.", "Preis-Leistung stimmt einfach."],
}
NEGATIVE = {
    "Lieferung": ["Die Lieferung hat fast drei Wochen gedauert.", "Paket kam beschädigt an und niemand fühlte sich zuständig.",
                  "Lieferung zu spät, der Termin wurde zweimal verschoben.", "Versand dauert viel zu lange.",
                  "Delivery took ages and tracking never updated."],
    "Kundenservice": ["Hotline ist nie erreichbar, man hängt ewig in der Warteschleife.",
                      "Auf meine E-Mail hat der Kundenservice nach zwei Wochen immer noch nicht geantwortet.",
                      "Unfreundlicher Kundenservice, ich wurde dreimal weiterverbunden.",
                      "Customer service never called back."],
    "Preis": ["Viel zu teuer im Vergleich zur Konkurrenz.", "Die Preise wurden schon wieder erhöht.",
              "Versandkosten sind eine Frechheit."],
    "Rückerstattung": ["Rückerstattung dauert jetzt schon sechs Wochen.", "Retoure wurde nicht gutgeschrieben, Geld ist weg.",
                       "Erstattung nach Rücksendung lässt auf sich warten."],
    "App": ["Die App stürzt ständig ab.", "Login in der App funktioniert seit dem Update nicht mehr.",
            "Website ist langsam und der Checkout bricht ab."],
    "Datenleck": ["Nach dem Datenleck habe ich kein Vertrauen mehr in euch.",
                  "Meine Daten wurden gestohlen und ich habe nur eine Standard-Mail bekommen.",
                  "Das Datenleck ist ein Skandal, ich kündige.", "Wie konnte das mit den Kundendaten passieren? Unfassbar.",
                  "After the data breach I do not trust you with my card anymore."],
}
MIXED = ["Beratung super, aber die Lieferung dauerte ewig.", "Produkt gut, aber der Preis ist zu hoch.",
         "Nette Mitarbeiter, aber die Hotline ist nie erreichbar.", "Great products, but the app keeps crashing."]
FILLER = ["k.A.", "-", "keine Angabe", "nichts", "/", ":-)", "n/a", "Nein"]
PII = ["Bitte rufen Sie mich zurück: 0171 2345678.", "Meine E-Mail ist anna.schmidt@example.de, bitte melden!",
       "Die Erstattung bitte auf DE89 3704 0044 0532 0130 00 überweisen."]


def build_german(rows: int = 600, seed: int = 7) -> pd.DataFrame:
    rng = random.Random(seed)
    start = pd.Timestamp("2026-01-05")
    records = []
    for index in range(rows):
        week = index * 12 // rows
        day = start + pd.Timedelta(days=week * 7 + rng.randrange(7))
        leak = week >= 8
        roll = rng.random()
        if leak:
            score = rng.choice([0, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10]) if roll < 0.8 else rng.choice([9, 10])
        else:
            score = rng.choice([9, 10, 10, 9, 8, 7, 8, 6, 4, 10, 9, 3])
        kind = rng.random()
        if kind < 0.15:
            comment = ""
        elif kind < 0.22:
            comment = rng.choice(FILLER)
        elif kind < 0.26:
            comment = rng.choice(MIXED)
        elif kind < 0.28:
            comment = rng.choice(PII)
        elif score >= 9:
            comment = rng.choice(rng.choice(list(POSITIVE.values())))
        elif leak and rng.random() < 0.6:
            comment = rng.choice(NEGATIVE["Datenleck"])
        else:
            themes = [name for name in NEGATIVE if name != "Datenleck"]
            comment = rng.choice(NEGATIVE[rng.choice(themes)])
        records.append(
            {
                "ID": f"DE-{10000 + index}",
                "Datum": day.strftime("%d.%m.%Y"),
                "Bewertung": str(score),
                "Kommentar": comment,
                "Filiale": rng.choice(["Berlin", "Hamburg", "München", "Köln"]),
                "Kanal": rng.choice(["Filiale", "Online", "Telefon"]),
            }
        )
    frame = pd.DataFrame(records)
    # A few rows as real exports have them: bad scores, a duplicate id, a German decimal.
    frame.loc[5, "Bewertung"] = "zehn"
    frame.loc[17, "Bewertung"] = "11"
    frame.loc[23, "Bewertung"] = ""
    frame.loc[31, "Bewertung"] = "9,0"
    frame.loc[44, "ID"] = frame.loc[43, "ID"]
    frame.loc[52, "Kommentar"] = "Zeile 1 des Kommentars;\nZeile 2 mit \"Anführungszeichen\""
    return frame


def main() -> None:
    if SHARED.exists():
        english = build_english()
        english.to_csv(HERE / "sample_reviews_en.csv", index=False, encoding="utf-8")
        print(f"wrote {len(english)} rows to data/sample_reviews_en.csv")
    german = build_german()
    german.to_csv(HERE / "demo_de.csv", index=False, sep=";", encoding="cp1252")
    print(f"wrote {len(german)} rows to data/demo_de.csv")


if __name__ == "__main__":
    main()
