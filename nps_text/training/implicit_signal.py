"""Extra training signal for what customers write and models miss: implicit complaints and praise, negation, contrast.

Two sources, both German and English, both for training only:

* :func:`template_rows` - hand-written sentence templates filled from small word lists (waiting times, repeated
  visits and calls, "would have been a 10 if ...", "finally works", quick fixes, negated praise and complaints,
  "X, but Y" where the second clause decides). Labels follow the conventions of our test cases (an implicit
  complaint is negative; the clause after "aber / but / doch" decides; a negated complaint is positive).
* :func:`cue_rows` - weak labels from review stars: rows of the labelled review corpora that the per-source caps
  left out (``select_training_rows``) and that mention such a cue (waiting, again and again, finally, "wäre ...
  wenn"); their label is the star label the corpus already has.

These texts were written for this module and are **not** taken from the behavioural suite
(``nps_text/training/checklist_cases.yaml``, :mod:`nps_text.training.checklist`) or its tests; the suite stays a
test set. :func:`template_rows` removes any text that happens to equal a suite case and asserts none is left.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd

from nps_text.training.checklist import assert_no_checklist, exclude_checklist

TEMPLATE_SOURCE = "templates"

# --- German -------------------------------------------------------------------------------------------------------
_DE_WAITED_FOR = [
    "die Gutschrift", "den versprochenen Rückruf", "eine Antwort auf meine Mail", "den Techniker", "meine Erstattung",
    "die Freischaltung des Anschlusses", "die neue Karte", "die Kündigungsbestätigung", "den Ersatzteil-Termin",
]
_DE_SINCE = [
    "seit drei Wochen", "seit Anfang des Monats", "seit über zwei Monaten", "seit Oktober", "seit zehn Tagen",
    "jetzt schon die fünfte Woche", "seit Ostern",
]
_DE_REPEATED = [
    "Das war jetzt der vierte Technikertermin wegen derselben Störung.",
    "Zum dritten Mal kam der Monteur, und der Fehler ist immer noch da.",
    "Ich habe sechsmal bei der Hotline angerufen, bevor sich jemand gekümmert hat.",
    "Jedes Mal ein anderer Ansprechpartner, jedes Mal alles von vorne erzählen.",
    "Bereits die zweite Reklamation für dasselbe Gerät.",
    "Schon wieder eine falsche Abrechnung, wie im letzten Quartal.",
    "Die dritte Ersatzlieferung war genauso beschädigt wie die erste.",
    "Ich musste den Zähler dreimal selbst ablesen und einschicken.",
]
_DE_QUEUE = [
    "{n} Minuten in der Warteschleife, danach war die Leitung tot.",
    "Nach {n} Minuten Warteschleife wurde ich einfach weiterverbunden und wieder hinten eingereiht.",
    "An der Kasse haben wir {n} Minuten gestanden.",
    "Der Zug stand {n} Minuten vor dem Bahnhof, ohne eine einzige Durchsage.",
]
_DE_TEN_IF = [
    "die Installation beim ersten Termin geklappt hätte", "ich nicht dreimal hätte nachfragen müssen",
    "die Rechnung von Anfang an gestimmt hätte", "der Techniker pünktlich gekommen wäre",
    "die Lieferung nicht eine Woche zu spät gewesen wäre", "man mich über die Verspätung informiert hätte",
]
_DE_FINALLY = [
    "Endlich läuft das Internet stabil, seit der Router getauscht wurde.",
    "Nach dem Umzug des Anschlusses funktioniert endlich alles ohne Aussetzer.",
    "Endlich eine App, mit der man Rechnungen in zwei Klicks findet.",
    "Der Techniker kam pünktlich, und nach zwanzig Minuten lief alles.",
    "Am Dienstag bestellt, am Mittwoch war die Ware schon im Briefkasten.",
    "Das Geld für die stornierte Reise war nach zwei Tagen zurückgebucht.",
    "Seit dem Tarifwechsel keine einzige Störung mehr.",
    "Beim ersten Anruf kam ich direkt durch und alles war sofort geklärt.",
    "Die Zählerablesung ging online in einer Minute.",
    "Die Verkäuferin rief am nächsten Morgen an, um zu hören, ob die Waschmaschine läuft.",
    "Nach dem Anruf war die Sperre innerhalb einer Viertelstunde aufgehoben.",
    "Die Reparatur hat nur einen Tag gedauert, obwohl zwei Wochen angekündigt waren.",
]
_DE_ARRIVED = ["Das Paket", "Die Bestellung", "Der neue Router", "Die Ersatzkarte", "Das Ersatzteil"]
_DE_ARRIVED_WHEN = ["schon am nächsten Tag", "zwei Tage früher als angekündigt", "noch am selben Abend",
                    "bereits am Folgetag"]
_DE_FIXED = ["Die Störung", "Der Fehler in der Rechnung", "Mein Anliegen", "Die Sperre", "Das Verbindungsproblem"]
_DE_FIXED_WHEN = ["nach einem einzigen Anruf", "innerhalb einer Stunde", "noch am selben Tag", "in fünf Minuten"]
_DE_THINGS = ["der Kundenservice", "die Beratung im Laden", "der Monteur", "die Mitarbeiterin an der Hotline",
              "die App", "der Bestellvorgang", "die Abrechnung"]
_DE_NEG_OF_BAD = ["nicht unfreundlich", "keineswegs kompliziert", "gar nicht so teuer wie befürchtet",
                  "nicht langsam", "alles andere als umständlich"]
_DE_NEG_OF_GOOD = ["nicht besonders hilfreich", "leider nicht zuverlässig", "alles andere als freundlich",
                   "nicht wirklich kompetent", "keine große Hilfe"]
_DE_NO_TROUBLE = [
    "Keinerlei Probleme beim Wechsel.", "Bisher keine einzige Beschwerde meinerseits.",
    "Ich habe an der Abwicklung nichts auszusetzen.", "Es gab überhaupt keine Schwierigkeiten bei der Einrichtung.",
    "Nie wieder musste ich wegen der Rechnung anrufen.", "Da gibt es nichts zu meckern.",
]
_DE_NOBODY = [
    "Keiner hat sich auf meine Beschwerde gemeldet.", "Niemand fühlte sich für mein Anliegen zuständig.",
    "Auf meine drei Mails kam keine einzige Antwort.", "Der versprochene Rückruf kam nie.",
    "Kein Mitarbeiter konnte mir sagen, wann der Anschluss wieder geht.",
]
_DE_PRAISE = [
    "die Beratung war kompetent", "der Tarif ist günstig", "das Personal ist sehr freundlich",
    "die App ist übersichtlich", "der Monteur war sehr nett", "die Preise sind fair",
]
_DE_COMPLAINT = [
    "die Abrechnung stimmt seit Monaten nicht", "auf den Techniker warte ich seit zwei Wochen",
    "bei Störungen erreicht man niemanden", "die Verbindung bricht ständig ab",
    "die Kündigung wurde ignoriert", "die Lieferung kam zehn Tage zu spät",
]
_DE_RESOLVED = [
    "der zweite Mitarbeiter hat alles in wenigen Minuten gelöst", "am Ende wurde mir die Gebühr erstattet",
    "inzwischen läuft alles reibungslos", "die Kollegin im Chat hat das schnell geklärt",
]
_DE_RESOLVED_CONTEXT = [
    "Die Umstellung hat etwas gehakt", "Der erste Termin ist ausgefallen", "Die Rechnung war zuerst falsch",
    "Anfangs hatte ich Verbindungsprobleme", "Die Lieferung hat sich um einen Tag verschoben",
    "Am Telefon musste ich kurz warten",
]

# --- English ------------------------------------------------------------------------------------------------------
_EN_WAITED_FOR = [
    "my refund", "the promised callback", "a reply to my email", "the engineer", "my new SIM card",
    "the account to be unlocked", "confirmation of my cancellation", "the replacement part",
]
_EN_SINCE = [
    "since September", "for three weeks now", "for over two months", "since the start of the month",
    "for ten days", "since Easter",
]
_EN_REPEATED = [
    "That was the fourth engineer visit for the same fault.",
    "Third time the technician came out and the line still drops.",
    "I called the helpline six times before anyone took ownership.",
    "Every call a different agent, every time I had to explain it all again.",
    "This is my second complaint about the same device.",
    "Another wrong bill, just like last quarter.",
    "The third replacement arrived just as damaged as the first one.",
    "I had to send in my meter reading three times.",
]
_EN_QUEUE = [
    "{n} minutes on hold and then the line went dead.",
    "After {n} minutes on hold I was transferred and put back in the queue.",
    "We stood at the checkout for {n} minutes.",
    "The train sat outside the station for {n} minutes without a single announcement.",
]
_EN_TEN_IF = [
    "the installation had worked the first time", "I hadn't had to chase them three times",
    "the bill had been right from the start", "the engineer had turned up on time",
    "the parcel hadn't been a week late", "someone had told me about the delay",
]
_EN_FINALLY = [
    "Finally the broadband is stable since they swapped the router.",
    "After moving the line everything finally works without dropouts.",
    "At last an app where I can find my bills in two taps.",
    "The engineer arrived on time and twenty minutes later everything was running.",
    "Ordered on Tuesday, it was in my letterbox on Wednesday.",
    "The money for the cancelled trip was back within two days.",
    "Not a single outage since I changed plans.",
    "Got straight through on the first call and it was sorted there and then.",
    "Submitting my meter reading online took one minute.",
    "The shop assistant rang the next morning to check the washing machine was running.",
    "My card was unblocked within fifteen minutes of calling.",
    "The repair took one day although they had said two weeks.",
]
_EN_ARRIVED = ["The parcel", "My order", "The new router", "The replacement card", "The spare part"]
_EN_ARRIVED_WHEN = ["the very next day", "two days earlier than promised", "the same evening",
                    "the following morning"]
_EN_FIXED = ["The outage", "The billing error", "My query", "The block on my account", "The connection issue"]
_EN_FIXED_WHEN = ["after a single call", "within an hour", "the same day", "in five minutes"]
_EN_THINGS = ["the customer service", "the advice in store", "the engineer", "the agent on the phone",
              "the app", "the ordering process", "the billing"]
_EN_NEG_OF_BAD = ["not unfriendly at all", "not complicated in the slightest", "not as expensive as I feared",
                  "not slow at all", "anything but awkward"]
_EN_NEG_OF_GOOD = ["not particularly helpful", "sadly not reliable", "anything but friendly",
                   "not really competent", "no help whatsoever"]
_EN_NO_TROUBLE = [
    "No problems at all with the switch.", "I have no complaints so far.",
    "I can't fault the way it was handled.", "There were no difficulties whatsoever with the setup.",
    "Never had to call about the bill again.", "Nothing to grumble about.",
]
_EN_NOBODY = [
    "No one replied to my complaint.", "Nobody felt responsible for my case.",
    "Not a single answer to my three emails.", "The promised callback never came.",
    "No agent could tell me when the line would be back.",
]
_EN_PRAISE = [
    "the advice was competent", "the plan is cheap", "the staff are very friendly",
    "the app is clear", "the engineer was very nice", "the prices are fair",
]
_EN_COMPLAINT = [
    "the billing has been wrong for months", "I have been waiting two weeks for the engineer",
    "you can't reach anyone when there is an outage", "the connection keeps dropping",
    "my cancellation was ignored", "the delivery was ten days late",
]
_EN_RESOLVED = [
    "the second agent fixed everything in a few minutes", "in the end they refunded the fee",
    "now everything runs smoothly", "the colleague on chat sorted it quickly",
    "customer service apologised at once and put it right", "since the second visit everything has been fine",
]
_EN_RESOLVED_CONTEXT = [
    "The switchover had a few hiccups", "The first appointment was cancelled", "The bill was wrong at first",
    "At the start I had connection problems", "The delivery slipped by a day",
    "I had to wait briefly on the phone",
]

_MINUTES = ["40", "45", "55", "70", "90"]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _language_rows(language: str) -> list[tuple[str, str, str]]:
    """(text, label, capability) for one language, every combination of its lists."""
    de = language == "de"
    waited_for, since = (_DE_WAITED_FOR, _DE_SINCE) if de else (_EN_WAITED_FOR, _EN_SINCE)
    rows: list[tuple[str, str, str]] = []
    for thing, when in itertools.product(waited_for, since):
        text = f"Ich warte {when} auf {thing}." if de else f"I have been waiting {when} for {thing}."
        rows.append((text, "negative", "implicit_complaint"))
    rows += [(text, "negative", "implicit_complaint") for text in (_DE_REPEATED if de else _EN_REPEATED)]
    for template, minutes in itertools.product(_DE_QUEUE if de else _EN_QUEUE, _MINUTES):
        rows.append((template.format(n=minutes), "negative", "implicit_complaint"))
    for condition in _DE_TEN_IF if de else _EN_TEN_IF:
        text = f"Es wäre eine 10 gewesen, wenn {condition}." if de else f"It would have been a 10 if {condition}."
        rows.append((text, "negative", "implicit_complaint"))
    rows += [(text, "positive", "implicit_praise") for text in (_DE_FINALLY if de else _EN_FINALLY)]
    arrived, arrived_when = (_DE_ARRIVED, _DE_ARRIVED_WHEN) if de else (_EN_ARRIVED, _EN_ARRIVED_WHEN)
    for thing, when in itertools.product(arrived, arrived_when):
        text = f"{thing} war {when} da." if de else f"{thing} arrived {when}."
        rows.append((text, "positive", "implicit_praise"))
    fixed, fixed_when = (_DE_FIXED, _DE_FIXED_WHEN) if de else (_EN_FIXED, _EN_FIXED_WHEN)
    for thing, when in itertools.product(fixed, fixed_when):
        text = f"{thing} war {when} erledigt." if de else f"{thing} was sorted {when}."
        rows.append((text, "positive", "implicit_praise"))
    things = _DE_THINGS if de else _EN_THINGS
    for thing, phrase in itertools.product(things, _DE_NEG_OF_BAD if de else _EN_NEG_OF_BAD):
        verb = "war" if de else "was"
        rows.append((f"{_capital(thing)} {verb} {phrase}.", "positive", "negation"))
    for thing, phrase in itertools.product(things, _DE_NEG_OF_GOOD if de else _EN_NEG_OF_GOOD):
        verb = "war" if de else "was"
        rows.append((f"{_capital(thing)} {verb} {phrase}.", "negative", "negation"))
    rows += [(text, "positive", "negation") for text in (_DE_NO_TROUBLE if de else _EN_NO_TROUBLE)]
    rows += [(text, "negative", "negation") for text in (_DE_NOBODY if de else _EN_NOBODY)]
    praise, complaint = (_DE_PRAISE, _DE_COMPLAINT) if de else (_EN_PRAISE, _EN_COMPLAINT)
    joiners = ("aber", "doch", "allerdings") if de else ("but", "however,", "yet")
    for (good, bad), joiner in itertools.product(itertools.product(praise, complaint), joiners):
        if de and joiner == "allerdings":
            rows.append((f"{_capital(good)}, {bad} allerdings.", "negative", "contrast"))
        else:
            rows.append((f"{_capital(good)}, {joiner} {bad}.", "negative", "contrast"))
    resolved_context, resolved = (_DE_RESOLVED_CONTEXT, _DE_RESOLVED) if de else (_EN_RESOLVED_CONTEXT, _EN_RESOLVED)
    for context, fix in itertools.product(resolved_context, resolved):
        rows.append((f"{context}, {'aber' if de else 'but'} {fix}.", "positive", "contrast"))
    return rows


def template_rows(limit: int | None = None, seed: int = 13) -> pd.DataFrame:
    """Hand-written German and English template sentences (``text``, ``label``, ``source``, ``language``).

    ``limit`` keeps a seeded sample of that many rows (all when ``None`` or larger than the pool). Never contains
    a behavioural-suite case.

    Example:
        >>> rows = template_rows()
        >>> sorted(rows["language"].unique()), sorted(rows["label"].unique())
        (['de', 'en'], ['negative', 'positive'])
    """
    parts = []
    for language in ("de", "en"):
        rows = _language_rows(language)
        parts.append(pd.DataFrame(rows, columns=["text", "label", "capability"]).assign(language=language))
    frame = pd.concat(parts, ignore_index=True).drop_duplicates("text")
    frame = exclude_checklist(frame)
    assert_no_checklist(frame)
    if limit is not None and len(frame) > limit:
        frame = frame.sample(limit, random_state=seed)
    return frame.assign(source=TEMPLATE_SOURCE)[["text", "label", "source", "language", "capability"]].reset_index(
        drop=True
    )


IMPLICIT_CUES = re.compile(
    r"\b(?:warte(?:n|t|te|ten)?|gewartet|wartezeit|warteschleife|seit (?:wochen|monaten|tagen)|immer noch|"
    r"schon wieder|zum (?:zweiten|dritten|vierten) mal|mehrmals|endlich|wäre .{0,60} wenn|hätte .{0,60} wenn|"
    r"sofort|am nächsten tag|innerhalb von|"
    r"wait(?:ed|ing)?|on hold|still (?:not|no|waiting)|again and again|(?:second|third|fourth) time|"
    r"several times|finally|at last|would have been|next day|within (?:a|an|one|two|\d+)|right away)\b",
    re.IGNORECASE,
)


def cue_rows(left_out: pd.DataFrame, limit: int, seed: int = 13) -> pd.DataFrame:
    """Rows of ``left_out`` (labelled rows the source caps did not pick) that mention an implicit cue.

    Their label is the one the corpus has (review stars); ``source`` becomes ``<source>_cues`` so the summary
    and the source weights can tell them apart. A seeded sample of at most ``limit`` rows, about even per source.
    """
    hits = left_out[left_out["text"].astype(str).str.contains(IMPLICIT_CUES)]
    if hits.empty or limit <= 0:
        return hits.iloc[:0].copy()
    rng = np.random.default_rng(seed)
    groups = [group for _, group in hits.groupby("source", sort=True)]
    share = max(limit // len(groups), 1)
    parts = [group.iloc[rng.permutation(len(group))[:share]] for group in groups]
    picked = pd.concat(parts, ignore_index=True)
    return picked.assign(source=picked["source"].astype(str) + "_cues").reset_index(drop=True)
