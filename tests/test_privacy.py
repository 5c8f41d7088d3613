"""Passthrough columns with personal data, the privacy step, rejected rows, segments and the manifest."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest

from nps_text.config import PipelineConfig, PrivacyConfig, config_from_dict
from nps_text.errors import ConfigError
from nps_text.ingest import RawInput
from nps_text.privacy import (
    KEY_ENV,
    KEY_FILE,
    REDACTED_LINE,
    ColumnDecision,
    personal_by_content,
    personal_by_name,
    plan_columns,
    privacy_record,
    pseudonym_key,
    pseudonymise,
)
from nps_text.stages import comments, nps, validate

KEY = b"k" * 32


@pytest.mark.parametrize(
    "header",
    ["E-Mail", "Email", "e_mail", "Kunden-E-Mail", "Telefon", "Telefonnummer", "Mobil", "Handy", "Name", "Vorname",
     "Nachname", "Kunde", "Kundenname", "customer name", "CustomerName", "First Name", "Adresse", "Straße",
     "Lieferadresse", "IBAN", "phone", "Phone number", "Mobile", "address", "Geburtsdatum", "IP-Adresse"],
)
def test_personal_headers(header: str) -> None:
    assert personal_by_name(header)


@pytest.mark.parametrize(
    "header",
    ["Filiale", "Kanal", "Kundentyp", "Kundengruppe", "Produktname", "Filiale Name", "product name", "channel",
     "Region", "PLZ-Bereich", "Tarif", "Webadresse", "Segment"],
)
def test_ordinary_headers(header: str) -> None:
    assert not personal_by_name(header)


def test_personal_by_content() -> None:
    assert personal_by_content(["max@x.de", "eva@y.com", None, "k.A."]) == "EMAIL"
    assert personal_by_content(["0171 1234567", "+49 30 1234567", "030/1234567", ""]) == "PHONE"
    assert personal_by_content(["DE89 3704 0044 0532 0130 00", "-"]) == "IBAN"
    assert personal_by_content(["Berlin", "Wien", "29.01.2018", "4711-0815-2233"]) is None
    assert personal_by_content(["a@b.de"] + ["Berlin"] * 9) is None  # 10 % is below the threshold
    assert personal_by_content([]) is None


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Filiale": ["Berlin", "Wien", "Berlin"],
            "Kontakt": ["max@x.de", "eva@y.com", "tom@z.org"],  # detected by content only
            "Name": ["Max Muster", "Eva Beispiel", "Tom Test"],
            "E-Mail": ["max@x.de", "eva@y.com", None],
        }
    )


def test_plan_columns_name_content_and_config() -> None:
    frame = _frame()
    plan = plan_columns(frame, frame.columns, PrivacyConfig())
    assert privacy_record(plan) == {
        "Kontakt": {"policy": "hash", "detected_by": "content", "kind": "EMAIL"},
        "Name": {"policy": "hash", "detected_by": "name"},
        "E-Mail": {"policy": "hash", "detected_by": "name"},
    }
    config = PrivacyConfig(columns={"E-Mail": "keep", "Name": "not_personal", "Filiale": "drop"}, default_policy="drop")
    plan = plan_columns(frame, frame.columns, config)
    assert {name: d.policy for name, d in plan.items()} == {"Filiale": "drop", "Kontakt": "drop", "E-Mail": "keep"}
    assert plan["E-Mail"].detected_by == "config"
    assert plan_columns(frame, frame.columns, PrivacyConfig(detect=False)) == {}
    with pytest.raises(ConfigError, match="Telefon"):
        plan_columns(frame, frame.columns, PrivacyConfig(columns={"Telefon": "keep"}))


def test_config_section_forbids_unknown_keys_and_keep_as_default() -> None:
    assert config_from_dict({"privacy": {"columns": {"E-Mail": "keep"}}}).privacy.columns == {"E-Mail": "keep"}
    with pytest.raises(ConfigError, match="default_policy"):
        config_from_dict({"privacy": {"default_policy": "keep"}})
    with pytest.raises(ConfigError, match="privacy.detekt"):
        config_from_dict({"privacy": {"detekt": False}})
    with pytest.raises(ConfigError):
        config_from_dict({"privacy": {"columns": {"E-Mail": "encrypt"}}})


def test_default_yaml_documents_privacy(repo_root: Path) -> None:
    from nps_text.config import load_config

    assert load_config(repo_root / "pipeline" / "default.yaml").privacy == PrivacyConfig()


def test_pseudonyms_are_stable_keyed_and_normalised() -> None:
    values = pd.Series(["Max@Example.de ", "max@example.de", None, "030 123 45-67", "030/1234567", ""])
    hashed = pseudonymise(values, KEY).tolist()
    assert hashed[0] == hashed[1] and hashed[0].startswith("anon_") and len(hashed[0]) == 21
    assert hashed[2] is None and hashed[5] == ""
    assert hashed[3] == hashed[4]
    assert pseudonymise(values, b"x" * 32).tolist()[0] != hashed[0]
    assert pseudonymise(values, KEY).tolist() == hashed


def test_pseudonym_key_from_env_or_private_file(tmp_path: Path) -> None:
    assert pseudonym_key(tmp_path / "a", {KEY_ENV: "secret-from-env"}) == b"secret-from-env"
    assert not (tmp_path / "a").exists()
    state = tmp_path / "out" / ".state"
    key = pseudonym_key(state, {})
    assert len(key) == 64
    assert stat.S_IMODE((state / KEY_FILE).stat().st_mode) == 0o600
    assert pseudonym_key(state, {}) == key  # created once, then reused
    (state / KEY_FILE).write_text("short")
    with pytest.raises(ConfigError, match="damaged"):
        pseudonym_key(state, {})


CSV_ROWS = [
    {"row_number": "1", "id": "1", "score": "9", "comment": "Super, ruft mich an: 0171 1234567", "Filiale": "Berlin",
     "E-Mail": "max@x.de", "Name": "Max Muster", "Kanal": "Web"},
    {"row_number": "2", "id": "2", "score": "3", "comment": "schlecht", "Filiale": "Wien",
     "E-Mail": "eva@y.com", "Name": "Eva Beispiel", "Kanal": "App"},
    {"row_number": "3", "id": "3", "score": "zehn", "comment": "IBAN DE89370400440532013000, mail eva@y.com",
     "Filiale": "Wien", "E-Mail": "eva@y.com", "Name": "Eva Beispiel", "Kanal": "Tel. 030 1234567"},
    {"row_number": "4", "id": "4", "score": "7", "comment": "ok", "Filiale": "Berlin",
     "E-Mail": "tom@z.org", "Name": "Tom Test", "Kanal": "Web"},
]


def _validated(config: PipelineConfig) -> validate.ValidatedInput:
    unparseable = pd.DataFrame(
        {"row_number": [5], "reason": ["expected 8 fields, found 9"], "raw_line": ["5;8;gut;Wien;ann@a.de;Ann Nym;Web;x"]}
    )
    raw = RawInput(frame=pd.DataFrame(CSV_ROWS), unparseable=unparseable)
    return validate.run(raw, config.input)


def _private(validated: validate.ValidatedInput, config: PipelineConfig, key=None) -> validate.ValidatedInput:  # noqa: ANN001
    return validate.privacy(validated, config.privacy, redact_text=config.comments.redact_pii, key=key)


def _nps(responses: pd.DataFrame, mapping, config: PipelineConfig, personal=()) -> nps.NpsTables:  # noqa: ANN001
    return nps.run(nps.NpsInputs(responses, mapping, config.input.columns.segments, personal), config.nps)


def test_privacy_step_hashes_detected_columns_everywhere() -> None:
    config = PipelineConfig()
    before = _validated(config)
    after = _private(before, config, KEY)
    assert after.privacy == {"E-Mail": {"policy": "hash", "detected_by": "name"},
                             "Name": {"policy": "hash", "detected_by": "name"}}
    responses, rejected = after.responses, after.rejected
    assert responses["E-Mail"].str.startswith("anon_").all()
    assert responses["Filiale"].tolist() == ["Berlin", "Wien", "Berlin"]
    assert responses["comment"].tolist()[0] == "Super, ruft mich an: 0171 1234567"  # the comments stage redacts these
    # rejected: policies on the personal columns, redaction on every other text cell, raw_line withheld
    eva = responses.loc[responses["response_id"] == "2", "E-Mail"].item()
    row3 = rejected.set_index("row_number").loc[3]
    assert row3["E-Mail"] == eva  # the same pseudonym in both tables
    assert row3["Name"].startswith("anon_")
    assert row3["comment"] == "IBAN [IBAN], mail [EMAIL]"
    assert row3["Kanal"] == "Tel. [PHONE]"
    assert rejected.set_index("row_number").loc[5, "raw_line"] == REDACTED_LINE
    text = rejected.astype(str).to_csv() + responses.drop(columns="comment").astype(str).to_csv()
    for secret in ("max@x.de", "eva@y.com", "Eva Beispiel", "ann@a.de", "DE89370400440532013000", "030 1234567"):
        assert secret not in text
    assert after.rows_in == before.rows_in and len(rejected) == len(before.rejected)


def test_privacy_step_keep_drop_and_lazy_key() -> None:
    config = config_from_dict({"privacy": {"columns": {"E-Mail": "keep"}, "default_policy": "drop"}})
    calls: list[int] = []

    def key() -> bytes:
        calls.append(1)
        return KEY

    after = _private(_validated(config), config, key)
    assert calls == []  # nothing hashed: the key is never asked for
    assert "Name" not in after.responses.columns and "Name" not in after.rejected.columns
    assert "Name" not in after.mapping.passthrough
    assert after.responses["E-Mail"].tolist() == ["max@x.de", "eva@y.com", "tom@z.org"]
    assert after.privacy["E-Mail"] == {"policy": "keep", "detected_by": "config"}
    with pytest.raises(ConfigError, match="no pseudonym key"):
        _private(_validated(PipelineConfig()), PipelineConfig())


def test_raw_line_redacted_when_no_personal_columns() -> None:
    config = config_from_dict({"privacy": {"detect": False}})
    after = _private(_validated(config), config, KEY)
    assert after.rejected.set_index("row_number").loc[5, "raw_line"] == "5;8;gut;Wien;[EMAIL];Ann Nym;Web;x"
    assert after.privacy == {}


def test_id_column_with_email_addresses_is_hashed() -> None:
    rows = [dict(row, id=f"user{n}@example.de") for n, row in enumerate(CSV_ROWS)]
    config = PipelineConfig()
    raw = RawInput(frame=pd.DataFrame(rows).drop(columns=["E-Mail", "Name"]))
    after = _private(validate.run(raw, config.input), config, KEY)
    assert after.privacy["id"] == {"policy": "hash", "detected_by": "content", "kind": "EMAIL"}
    assert after.responses["response_id"].str.startswith("anon_").all()
    assert not after.rejected.astype(str).apply(lambda c: c.str.contains("@example.de")).any().any()


def test_personal_columns_are_never_segments() -> None:
    config = PipelineConfig()
    after = _private(_validated(config), config, KEY)
    responses = comments.run(after.responses, config.comments)
    assert "[PHONE]" in responses["comment"].tolist()[0]
    personal = validate.personal_columns(after)
    assert sorted(personal) == ["E-Mail", "Name"]
    tables = _nps(responses, after.mapping, config, personal)
    assert sorted(tables.segments) == ["Filiale", "Kanal"]
    # without the privacy information, the low-cardinality e-mail and name columns would be chosen
    assert "E-Mail" in _nps(responses, after.mapping, config).segments
    named = config_from_dict({"input": {"columns": {"segments": ["Filiale", "E-Mail"]}}})
    with pytest.raises(ConfigError, match="personal data"):
        _nps(responses, after.mapping, named, personal)


def test_manifest_record_is_plain_json() -> None:
    import json

    record = privacy_record({"E-Mail": ColumnDecision("E-Mail", "hash", "name")})
    assert json.loads(json.dumps(record)) == {"E-Mail": {"policy": "hash", "detected_by": "name"}}


@pytest.mark.usefixtures("prefect_harness")
def test_flow_leaks_no_personal_data(tmp_path: Path) -> None:
    import json

    import yaml

    from nps_text.flow import nps_text_flow
    from nps_text.params import RunParameters

    source = tmp_path / "survey.csv"
    source.write_text(
        "id;score;comment;Filiale;E-Mail;Name\n"
        "1;9;Super, ruft mich an: 0171 1234567;Berlin;max@x.de;Max Muster\n"
        "2;3;schlecht, IBAN DE89370400440532013000;Wien;eva@y.com;Eva Beispiel\n"
        "3;zehn;mail eva@y.com;Wien;eva@y.com;Eva Beispiel\n"
        "4;7;ok;Berlin;tom@z.org;Tom Test;extra\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"embeddings": {"model": "test-hashing"}, "sentiment": {"enabled": False},
                                      "themes": {"enabled": False}, "output": {"formats": ["parquet", "csv"]}}))
    out = tmp_path / "out"
    manifest = nps_text_flow(RunParameters(input=str(source), out=str(out), config=str(config)))
    assert manifest["privacy"] == {"E-Mail": {"policy": "hash", "detected_by": "name"},
                                   "Name": {"policy": "hash", "detected_by": "name"}}
    assert manifest["segments"] == ["Filiale"]
    assert stat.S_IMODE((out / ".state" / KEY_FILE).stat().st_mode) == 0o600
    written = [path for path in out.iterdir() if path.is_file()]
    blobs = b"".join(path.read_bytes() for path in written)
    blobs += json.dumps([pd.read_parquet(p).astype(str).to_dict() for p in written if p.suffix == ".parquet"]).encode()
    for secret in ("max@x.de", "eva@y.com", "Eva Beispiel", "Max Muster", "0171 1234567", "DE89370400440532013000"):
        assert secret.encode() not in blobs, secret
