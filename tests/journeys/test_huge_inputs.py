"""Journey: huge inputs through the real ``nps-text run`` (real models, Prefect, writers), with time and memory
bounds measured by the harness.

* A 5 MB comment (what an unclosed quote produces: the rest of the file in one field) once kept a run busy for
  13 minutes at 14 GB. The same export with and without it must cost about the same (at most 1.5x + 20 s) and
  stay under 3 GiB; the row is marked ``comment_truncated`` and its comment is cut to ``comments.max_chars``.
* Survey tools export one column per question and matrix cell: those exports are 3,004 columns wide (the
  two runs above) and 16,384 (Excel's limit); both run to the end with the score and comment found.
* 20,000 columns is no survey export: a one-line error within seconds, before Prefect starts.

Every export has two clear topics (delivery, customer service) with at least five comments each, and a third
(prices), so that themes can form. One home folder for the module: Prefect's database is created once, by the
16,384-column run, before the two runs that are compared.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pandas as pd
import pytest

from tests.journeys.conftest import Result, nps_text

pytestmark = pytest.mark.journey

DELIVERY = [
    "Die Lieferung kam drei Tage zu spät.", "Das Paket wurde verspätet geliefert.",
    "Lieferung dauerte viel zu lange, die Sendungsverfolgung ging nicht.", "Der Versand war sehr langsam.",
    "Meine Bestellung kam erst nach zwei Wochen an.", "Die Zustellung hat ewig gedauert.",
]
SERVICE = [
    "Der Kundenservice war sehr freundlich und kompetent.", "Die Hotline hat mir schnell geholfen.",
    "Tolle Beratung am Telefon, sehr hilfsbereit.", "Der Support hat mein Problem sofort gelöst.",
    "Freundliche Mitarbeiter im Kundenservice.", "Der Service am Telefon war ausgezeichnet.",
]
PRICE = ["Die Preise sind zu hoch.", "Zu teuer im Vergleich zur Konkurrenz.", "Die Gebühren sind viel zu hoch."]
TOPICS = [(DELIVERY, 2), (SERVICE, 10), (PRICE, 6)]
FIXED = ["ResponseId", "Region", "Kanal", "NPS", "Kommentar", "Datum"]
GIANT_CHARS = 5_000_000
MAX_CHARS = 5_000  # comments.max_chars by default


def _header(width: int) -> list[str]:
    return FIXED + [f"Q{(index // 20) + 1}_{(index % 20) + 1}" for index in range(width - len(FIXED))]


def _rows(count: int, width: int) -> list[list[str]]:
    rng = random.Random(17)
    rows = []
    for number in range(count):
        pool, score = TOPICS[number % len(TOPICS)]
        answers = [rng.choice("12345") if rng.random() < 0.7 else "" for _ in range(width - len(FIXED))]
        rows.append([
            f"R{number + 1:04d}", rng.choice(["Nord", "Süd", "West"]), rng.choice(["Online", "Filiale"]),
            str(score), pool[number % len(pool)], f"2026-01-{number % 28 + 1:02d}", *answers,
        ])
    return rows


def _export(path: Path, width: int, rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_header(width))
        writer.writerows(_rows(rows, width))
    return path


def _swallowed_rest(characters: int) -> str:
    """Lines of words as an unclosed quote swallows them (the rest of a file), ``characters`` long."""
    rng = random.Random(5)
    words = [
        "Lieferung", "Paket", "Kundenservice", "Hotline", "Rechnung", "Preis", "App", "Filiale", "Mitarbeiter",
        "freundlich", "langsam", "schnell", "teuer", "Bestellung", "Versand", "Zustellung", "Beratung", "Wartezeit",
        "Problem", "Ware", "und", "der", "die", "das", "war", "ist", "sehr", "nicht", "zu", "mit", "auf", "für",
        "bei", "immer", "wieder", "leider", "gut", "schlecht",
    ]
    lines, size = [], 0
    while size < characters:
        line = " ".join(rng.choice(words) for _ in range(12)) + rng.choice([".", ","])
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("huge-work")


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("huge-home")


def _run(name: str, work: Path, home: Path) -> tuple[Result, Path]:
    result = nps_text("run", f"{name}.csv", "--out", f"out/{name}", cwd=work, home=home, timeout=900)
    assert result.returncode == 0, result.output[-3000:]
    assert "Traceback" not in result.output
    return result, work / "out" / name


@pytest.fixture(scope="module")
def excel_wide(work: Path, shared_home: Path) -> tuple[Result, Path]:
    """16,384 columns (Excel's limit), 15 rows; runs first, so Prefect's database exists for the runs compared."""
    _export(work / "excel_wide.csv", 16_384, 15)
    return _run("excel_wide", work, shared_home)


@pytest.fixture(scope="module")
def plain(work: Path, shared_home: Path, excel_wide: tuple[Result, Path]) -> tuple[Result, Path]:
    """50 responses, 3,004 columns."""
    _export(work / "plain.csv", 3_004, 50)
    return _run("plain", work, shared_home)


@pytest.fixture(scope="module")
def giant(work: Path, shared_home: Path, plain: tuple[Result, Path]) -> tuple[Result, Path]:
    """The same 50 responses, then one whose comment opens a quote that never closes: 5 MB of lines."""
    path = _export(work / "giant.csv", 3_004, 50)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('R9999,Nord,Online,1,"Die Lieferung kam nie an. ' + _swallowed_rest(GIANT_CHARS) + "\n")
    assert path.stat().st_size > GIANT_CHARS
    return _run("giant", work, shared_home)


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_a_5_mb_comment_costs_about_what_the_export_without_it_costs(
    giant: tuple[Result, Path], plain: tuple[Result, Path]
) -> None:
    (with_giant, _), (without, _) = giant, plain
    print(f"5 MB comment: {with_giant.seconds:.0f} s, {with_giant.peak_rss_mib:.0f} MiB; "
          f"without it: {without.seconds:.0f} s, {without.peak_rss_mib:.0f} MiB")
    assert with_giant.seconds <= 1.5 * without.seconds + 20, (with_giant.seconds, without.seconds)
    assert with_giant.peak_rss_mib < 3072, with_giant.peak_rss_mib
    assert without.peak_rss_mib < 3072, without.peak_rss_mib


def test_the_giant_comment_is_cut_marked_and_counted(giant: tuple[Result, Path]) -> None:
    result, out = giant
    assert "51 rows in: 51 valid, 0 rejected" in result.stdout
    manifest = _manifest(out)
    assert manifest["comments_truncated"] == 1
    assert manifest["config"]["comments"]["max_chars"] == MAX_CHARS
    responses = pd.read_parquet(out / "responses.parquet")
    cut = responses[responses["comment_truncated"]]
    assert cut["response_id"].tolist() == ["R9999"]
    comment = cut["comment"].item()
    assert comment.startswith("Die Lieferung kam nie an.") and comment.endswith(" […]")
    assert len(comment) <= MAX_CHARS
    assert cut["language"].item() == "de" and cut["sentiment"].notna().item()
    assert not responses.loc[responses["response_id"] != "R9999", "comment_truncated"].any()
    sentences = pd.read_parquet(out / "sentences.parquet")
    assert sentences["sentence"].str.len().sum() < 2 * MAX_CHARS + 50 * 200  # no 5 MB of sentences
    csv_text = (out / "responses.csv").read_text(encoding="utf-8-sig")
    assert len(csv_text) < 200_000  # the outputs hold the cut comment, not 5 MB


def test_the_export_without_it_has_no_cut_comment(plain: tuple[Result, Path]) -> None:
    _, out = plain
    assert _manifest(out)["comments_truncated"] == 0
    assert not pd.read_parquet(out / "responses.parquet")["comment_truncated"].any()


@pytest.mark.parametrize("name", ["plain", "excel_wide"])
def test_a_wide_export_runs_with_score_and_comment_found(
    name: str, plain: tuple[Result, Path], excel_wide: tuple[Result, Path]
) -> None:
    result, out = {"plain": plain, "excel_wide": excel_wide}[name]
    width, rows = {"plain": (3_004, 50), "excel_wide": (16_384, 15)}[name]
    manifest = _manifest(out)
    assert manifest["column_mapping"]["score"] == "NPS" and manifest["column_mapping"]["comment"] == "Kommentar"
    assert manifest["column_mapping"]["id"] == "ResponseId" and manifest["column_mapping"]["date"] == "Datum"
    assert manifest["rows_in"] == manifest["rows_valid"] == rows  # no row dropped
    assert manifest["input"]["columns_in_input"] == width
    assert manifest["input"]["columns_left_out"] == width - 4 - 100
    responses = pd.read_parquet(out / "responses.parquet")
    # the first 100 other columns: Region, Kanal, Q1_1 .. Q5_18
    assert {"Region", "Kanal", "Q1_1", "Q5_18"} <= set(responses.columns) and "Q5_19" not in responses.columns
    assert responses["comment_status"].eq("text").all() and responses["sentiment"].notna().all()
    assert f"{rows} rows in: {rows} valid, 0 rejected" in result.stdout
    assert result.peak_rss_mib < 3072, result.peak_rss_mib
    print(f"{width:,} columns x {rows} rows: {result.seconds:.0f} s, {result.peak_rss_mib:.0f} MiB")


def test_an_absurdly_wide_file_fails_fast_in_one_line(work: Path, shared_home: Path) -> None:
    _export(work / "absurd.csv", 20_000, 2)
    result = nps_text("run", "absurd.csv", "--out", "out/absurd", cwd=work, home=shared_home, timeout=120)
    assert result.returncode != 0
    assert result.seconds < 15, result.seconds
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "Error: absurd.csv: the header: 20,000 columns, more than the 16,384 supported (Excel's limit); "
        "delimiter ',': set input.delimiter if that is wrong"
    ], result.output
    assert not (work / "out" / "absurd" / "manifest.json").exists()
