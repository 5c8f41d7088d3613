"""Journey: phone numbers and e-mail addresses in comments are nowhere at rest after ``nps-text run``.

Issue 17: ``+49 151 1234567`` (possible, not valid by ``phonenumbers``' metadata) stayed in clear text in 13
output files, and 6 phone numbers sat in ``~/.prefect/prefect.db`` because the improvement-area artifact
quoted comments. One real run on a small German/English export with a fresh home folder; then every file
under the output folder (hidden ``.state`` and ``.cache`` included) and under the home folder (Prefect's
database, logs, storage) is read: raw bytes, zip entries (xlsx), Parquet and DuckDB tables, SQLite rows.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.journeys.conftest import Result, nps_text, write_csv

PHONE_FORMS: dict[str, tuple[str, ...]] = {
    "+49 151 1234567": ("+49 151 1234567", "491511234567", "151 1234567", "1511234567"),
    "0049 30 1234567": ("0049 30 1234567", "0049301234567", "49301234567", "30 1234567", "301234567"),
    "Handy 0151 1234567": ("0151 1234567", "01511234567"),
    "+44 20 7946 0958": ("+44 20 7946 0958", "442079460958", "20 7946 0958", "2079460958", "7946 0958"),
    "+49 157 1234567": ("+49 157 1234567", "491571234567", "157 1234567", "1571234567"),
    "+44 7700 90012": ("+44 7700 90012", "44770090012", "7700 90012", "770090012"),
    "+49 152 2345678": ("+49 152 2345678", "491522345678", "152 2345678", "1522345678"),
    "+49 1512 345678": ("+49 1512 345678", "491512345678", "1512 345678", "1512345678"),
    "+49 171 123456": ("+49 171 123456", "49171123456", "171 123456", "171123456"),
}
"""Each phone number of the comments as written, and the other forms a file could hold it in. All but three
are possible, not valid, by ``phonenumbers``' metadata, and every comment that holds one of those three
holds one of the others too: whichever comments a run quotes, the code before issue 17 leaked a number."""
EMAIL = "max.mustermann@example.de"

COMMENTS: list[tuple[int, str]] = [
    # delivery (detractors): every one has a phone number, so any quote of the improvement areas would show one
    (2, "Die Lieferung kam zwei Wochen zu spät, bitte rufen Sie mich an: +49 151 1234567"),
    (1, "Lieferung verspätet und das Paket war beschädigt. Handy 0151 1234567 oder +49 171 123456"),
    (3, "Das Paket kam viel zu spät, die Lieferung dauerte ewig. WhatsApp +49 157 1234567"),
    (2, "Delivery was late again, the parcel arrived a week late. My mobile is +44 7700 90012"),
    (
        1,
        "The delivery took forever and the package was damaged, call me on +44 20 7946 0958 or +49 152 2345678",
    ),
    (
        2,
        "Lieferung viel zu spät, keine Sendungsverfolgung. Erreichbar unter 0049 30 1234567 und +49 1512 345678",
    ),
    (3, f"Late delivery, the parcel was lost for days. Please email me at {EMAIL} or phone +49 152 2345678"),
    (4, "Lieferung zu spät und der Fahrer hat das Paket beim Nachbarn gelassen. Tel. +49 1512 345678"),
    # friendly service (promoters)
    (10, "Der Kundenservice war sehr freundlich und hat mir schnell geholfen."),
    (9, "Sehr freundlicher Kundenservice und kompetente Beratung."),
    (10, "Customer service was friendly and helpful, great support."),
    (9, "Friendly support team, they solved my problem quickly."),
    (10, "Toller Service, freundliche und hilfsbereite Mitarbeiter."),
    (9, "Great customer support, very friendly staff."),
    # no text
    (7, ""),
    (8, "k.A."),
]


@dataclass
class PrivacyRun:
    result: Result
    out: Path
    home: Path


@pytest.fixture(scope="module")
def privacy_run(tmp_path_factory: pytest.TempPathFactory) -> PrivacyRun:
    root = tmp_path_factory.mktemp("privacy")
    home, workdir = root / "home", root / "work"
    workdir.mkdir()
    rows = [
        f'R{index:03d},2026-03-{2 + 7 * (index % 2):02d},{score},"{comment}"'
        for index, (score, comment) in enumerate(COMMENTS, start=1)
    ]
    write_csv(workdir / "survey.csv", "id,date,score,comment", rows)
    result = nps_text("run", "survey.csv", "--out", "out", cwd=workdir, home=home, timeout=600)
    return PrivacyRun(result, workdir / "out", home)


def _sqlite_text(path: Path) -> Iterator[bytes]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for row in connection.execute(f'select * from "{table}"'):
                yield repr(row).encode()
    finally:
        connection.close()


def _duckdb_text(path: Path) -> Iterator[bytes]:
    import duckdb

    connection = duckdb.connect(str(path), read_only=True)
    try:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            for row in connection.execute(f'select * from "{schema}"."{table}"').fetchall():
                yield repr(row).encode()
    finally:
        connection.close()


def readable_contents(path: Path) -> Iterator[bytes]:
    """The file's bytes and every decoded view of them a reader could get: zip entries, gzip, Parquet rows,
    SQLite rows, DuckDB rows."""
    data = path.read_bytes()
    yield data
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                yield archive.read(name)
    elif data.startswith(b"\x1f\x8b"):
        yield gzip.decompress(data)
    elif data.startswith(b"PAR1"):
        import pyarrow.parquet as pq

        yield repr(pq.read_table(path).to_pylist()).encode()
    elif data.startswith(b"SQLite format 3\x00"):
        yield from _sqlite_text(path)
    elif data[8:12] == b"DUCK":
        yield from _duckdb_text(path)


def leaks(folder: Path) -> list[str]:
    """Every (file, form) where a phone number or the e-mail address of the comments is found."""
    needles = [form.encode() for forms in PHONE_FORMS.values() for form in forms] + [EMAIL.encode()]
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        for blob in readable_contents(path):
            squeezed = re.sub(rb"[ \-/().]|\xc2\xa0", b"", blob) if len(blob) < 64 * 2**20 else blob
            lowered = blob.lower()
            for needle in needles:
                if needle.lower() in lowered or (needle.isdigit() and needle in squeezed):
                    found.append(f"{path.relative_to(folder)}: {needle.decode()}")
    return sorted(set(found))


def test_run_succeeds_and_redacts_the_comments(privacy_run: PrivacyRun) -> None:
    import pandas as pd

    assert privacy_run.result.returncode == 0, privacy_run.result.output[-4000:]
    comments = pd.read_parquet(privacy_run.out / "responses.parquet")["comment"].dropna().tolist()
    assert sum("[PHONE]" in comment for comment in comments) == 8
    assert sum("[EMAIL]" in comment for comment in comments) == 1
    assert not [comment for comment in comments if re.search(r"\d{3}", comment)]
    themes = pd.read_parquet(privacy_run.out / "themes.parquet")
    assert themes["theme_id"].nunique() >= 2  # two topics: delivery, friendly service


def test_no_phone_number_or_email_in_any_output_file(privacy_run: PrivacyRun) -> None:
    assert privacy_run.result.returncode == 0, privacy_run.result.output[-4000:]
    files = [path for path in privacy_run.out.rglob("*") if path.is_file()]
    assert any(path.name == "report.html" for path in files)
    assert any(".state" in path.parts for path in files)
    assert leaks(privacy_run.out) == []


def test_no_phone_number_or_email_in_the_home_folder(privacy_run: PrivacyRun) -> None:
    assert privacy_run.result.returncode == 0, privacy_run.result.output[-4000:]
    assert (privacy_run.home / ".prefect" / "prefect.db").is_file()
    assert leaks(privacy_run.home) == []


def test_prefect_artifacts_hold_figures_and_labels_but_no_comment_text(privacy_run: PrivacyRun) -> None:
    assert privacy_run.result.returncode == 0, privacy_run.result.output[-4000:]
    connection = sqlite3.connect(f"file:{privacy_run.home / '.prefect' / 'prefect.db'}?mode=ro", uri=True)
    try:
        artifacts = connection.execute("select key, type, data, description from artifact").fetchall()
    finally:
        connection.close()
    keys = {key for key, *_ in artifacts}
    assert {"nps-text-headline", "nps-text-improvement-areas", "nps-text-nps-summary"} <= keys, keys
    stored = json.dumps([list(row) for row in artifacts], ensure_ascii=False)
    assert "example_comments" not in stored
    for _, comment in COMMENTS:
        if len(comment) > 20:
            assert comment[:20] not in stored and comment[-20:] not in stored, comment
