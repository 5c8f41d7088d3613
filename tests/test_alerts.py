"""Alerts: pure evaluation on small tables, config checks, and sending to REAL local receivers.

Receivers: an ``http.server`` on 127.0.0.1 (generic webhook, Slack, Teams over TLS with a throwaway
certificate) and a tiny socketserver SMTP server. Nothing of the sending code is mocked; for Slack only the
endpoint constant inside apprise (``hooks.slack.com``) is pointed at the local receiver, as Prefect itself does
for Slack GovCloud.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import socketserver
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nps_text.alerts import evaluate_alerts, two_proportion_z_test
from nps_text.config import PipelineConfig, config_from_dict
from nps_text.errors import ConfigError, InputError, SourceUnavailableError
from nps_text.nps import nps_summary, period_changes

# --- fixtures: tables ---------------------------------------------------------------------------------


def _responses() -> pd.DataFrame:
    """Two weeks, two branches: Berlin collapses in week 2 and a new 'Datenleck' theme appears."""
    rows = []
    n = 0

    def add(period: str, branch: str, score: int, comment: str | None, theme: int | None, label: str | None) -> None:
        nonlocal n
        n += 1
        rows.append({
            "response_id": f"R{n}", "score": score, "comment": comment,
            "comment_status": "text" if comment else "empty", "language": "de" if comment else None,
            "sentiment": "negative" if score <= 6 else "positive", "sentiment_confidence": 0.9,
            "theme_id": theme, "theme_label": label, "period": period, "Filiale": branch,
        })

    for branch in ("Berlin", "Hamburg"):
        for i in range(40):  # week 1: NPS about +40 in both branches
            score = 10 if i < 24 else (8 if i < 32 else 3)
            comment = "Lieferung dauert zu lange." if score == 3 else None
            add("2026-W01", branch, score, comment, 0 if comment else None, "Lieferung" if comment else None)
    for i in range(40):  # week 2, Berlin: most are detractors talking about the data leak
        score = 10 if i < 8 else (8 if i < 12 else 2)
        leak = score == 2 and i % 2 == 0
        comment = (f"Datenleck, ich kündige ({i})." if leak else "Lieferung dauert zu lange.") if score == 2 else None
        add("2026-W02", "Berlin", score, comment, (1 if leak else 0) if comment else None,
            ("Datenleck" if leak else "Lieferung") if comment else None)
    for i in range(40):  # week 2, Hamburg: as before
        score = 10 if i < 24 else (8 if i < 32 else 3)
        comment = "Lieferung dauert zu lange." if score == 3 else None
        add("2026-W02", "Hamburg", score, comment, 0 if comment else None, "Lieferung" if comment else None)
    frame = pd.DataFrame(rows)
    frame["nps_group"] = pd.cut(frame["score"], [-1, 6, 8, 10], labels=["detractor", "passive", "promoter"]).astype(str)
    frame["theme_id"] = frame["theme_id"].astype("Int64")
    return frame


def _tables(responses: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    responses = _responses() if responses is None else responses
    summary = nps_summary(responses, ["Filiale"])
    return {"responses": responses, "nps_summary": summary, "nps_changes": period_changes(summary)}


def _config(rules: list[dict[str, Any]], channels: dict[str, Any] | None = None, **alerts: Any) -> PipelineConfig:
    channels = channels or {"hook": {"type": "webhook", "url_env": "NPS_TEST_HOOK"}}
    return config_from_dict({"alerts": {"channels": channels, "rules": rules, **alerts}})


# --- pure evaluation ----------------------------------------------------------------------------------


def test_two_proportion_z_test_matches_the_textbook_formula() -> None:
    z, p = two_proportion_z_test(30, 100, 15, 100)
    pooled = 45 / 200
    expected = (0.30 - 0.15) / (pooled * (1 - pooled) * (2 / 100)) ** 0.5
    assert z == pytest.approx(expected)
    assert p == pytest.approx(0.00554, abs=1e-4)  # one-sided: sf(2.54)
    assert two_proportion_z_test(0, 0, 3, 10) == (0.0, 1.0)
    assert two_proportion_z_test(0, 10, 0, 10) == (0.0, 1.0)
    assert two_proportion_z_test(2, 10, 8, 10)[1] > 0.9  # fewer than before: not "more frequent"


def test_nps_drop_gives_one_german_message_with_figures_quotes_and_report() -> None:
    tables = _tables()
    config = _config([{"name": "drop", "type": "nps_drop", "channels": ["hook"]}])
    alerts = evaluate_alerts(tables, config, report="/srv/nps/report.html")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.language == "de" and alert.rule == "drop" and alert.channels == ("hook",)
    segments = {(f["segment"], f["segment_value"]) for f in alert.findings}
    assert segments == {("all", "all"), ("Filiale", "Berlin")}  # Hamburg did not drop
    assert "NPS-Alarm (drop)" in alert.subject
    assert "Gesamt: NPS" in alert.body and "Filiale = Berlin" in alert.body and "2026-W01" in alert.body
    assert "Bericht: /srv/nps/report.html" in alert.body
    assert alert.quotes and all("Datenleck" in q or "Lieferung" in q for q in alert.quotes)
    assert len(alert.quotes) <= 3


def test_rules_that_do_not_trigger_send_nothing_and_english_when_asked() -> None:
    stable = _responses()
    stable = stable[stable["Filiale"] == "Hamburg"]
    config = _config([
        {"name": "drop", "type": "nps_drop", "channels": ["hook"]},
        {"name": "emerging", "type": "emerging_theme", "channels": ["hook"]},
        {"name": "below", "type": "nps_below", "threshold": 0, "channels": ["hook"]},
    ])
    assert evaluate_alerts(_tables(stable), config) == []
    english = _config([{"name": "below", "type": "nps_below", "threshold": 50, "min_responses": 10,
                        "channels": ["hook"]}], language="en", report_url="https://intranet.example.com/nps/")
    alert, = evaluate_alerts(_tables(stable), english)
    assert alert.subject == "NPS alert (below): NPS below 50"
    assert "Overall: NPS 40.0 in 2026-W02 is below 50" in alert.body
    assert alert.report == "https://intranet.example.com/nps/"


def test_nps_drop_respects_segments_min_drop_and_lookback() -> None:
    tables = _tables()
    only_overall = _config([{"name": "d", "type": "nps_drop", "segments": ["all"], "channels": ["hook"]}])
    assert [f["segment"] for f in evaluate_alerts(tables, only_overall)[0].findings] == ["all"]
    huge = _config([{"name": "d", "type": "nps_drop", "min_drop": 95, "channels": ["hook"]}])
    assert evaluate_alerts(tables, huge) == []
    # a week 3 without change: the W02 drop is outside a lookback of 1, inside a lookback of 2
    week3 = _responses().query("period == '2026-W02'").assign(period="2026-W03")
    week3["response_id"] = week3["response_id"] + "-3"
    tables3 = _tables(pd.concat([_responses(), week3], ignore_index=True))
    assert evaluate_alerts(tables3, _config([{"name": "d", "type": "nps_drop", "channels": ["hook"]}])) == []
    lookback = _config([{"name": "d", "type": "nps_drop", "lookback_periods": 2, "channels": ["hook"]}])
    assert len(evaluate_alerts(tables3, lookback)) == 1


def test_emerging_theme_uses_the_detractor_share_z_test() -> None:
    config = _config([{"name": "emerging", "type": "emerging_theme", "channels": ["hook"]}])
    alert, = evaluate_alerts(_tables(), config)
    finding, = alert.findings
    assert finding["theme_label"] == "Datenleck" and finding["period"] == "2026-W02"
    assert finding["previous_count"] == 0 and finding["detractor_count"] == 14
    z, p = two_proportion_z_test(14, finding["detractor_comments"], 0, finding["previous_comments"])
    assert finding["p_value"] == pytest.approx(p)
    assert all("Datenleck" in quote for quote in alert.quotes)
    assert "Thema \u201eDatenleck\u201c in 2026-W02" in alert.body
    strict = _config([{"name": "e", "type": "emerging_theme", "min_detractors": 15, "channels": ["hook"]}])
    assert evaluate_alerts(_tables(), strict) == []


# --- config ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"channels": {"s": {"type": "slack", "url": "https://hooks.slack.com/services/T0/B0/X"}}},
         "must not hold 'url'"),
        ({"channels": {"s": {"type": "slack", "url_env": "https://hooks.slack.com/services/T0/B0/X"}}},
         "environment variable name"),
        ({"channels": {"s": {"type": "slack", "block": "https://hooks.slack.com/services/T0/B0/X"}}}, "never a URL"),
        ({"channels": {"m": {"type": "email", "host": "h", "sender": "a@b", "to": ["c@d"], "password": "x"}}},
         "must not hold 'password'"),
        ({"channels": {"s": {"type": "slack"}}}, "exactly one of block or url_env"),
        ({"channels": {}, "rules": [{"name": "r", "type": "nps_drop", "channels": ["nope"]}]}, "unknown channel"),
        ({"report_url": "https://x.example.com/r.html?sig=abc"}, "looks like a secret"),
        ({"rules": [{"name": "r", "type": "nps_fall", "channels": ["x"]}]}, "nps_fall"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_config_rejects_secrets_and_mistakes(alerts: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        config_from_dict({"alerts": alerts})
    assert "T0/B0/X" not in str(info.value)  # the error never echoes the pasted secret


def test_database_url_with_password_is_a_config_error_without_echo() -> None:
    with pytest.raises(ConfigError, match="contains a password") as info:
        config_from_dict({"output": {"database": "postgresql://nps:s3cret@db/analytics"}})
    assert "s3cret" not in str(info.value)
    ok = config_from_dict({"output": {"database": "postgresql://nps@db/analytics", "database_schema": "nps"}})
    assert ok.output.database_schema == "nps"


def test_bundled_alerts_yaml_is_valid(repo_root: Path) -> None:
    from nps_text.config import load_config

    config = load_config(repo_root / "pipeline" / "alerts.yaml")
    assert {rule.type for rule in config.alerts.rules} == {"nps_drop", "nps_below", "emerging_theme"}


# --- real local receivers -------------------------------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body.decode("utf-8")})
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def _serve(status: int = 200, tls: ssl.SSLContext | None = None) -> tuple[http.server.HTTPServer, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Receiver,), {"received": received, "status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server, received = _serve()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def _drop_alerts(config: PipelineConfig) -> list[Any]:
    return evaluate_alerts(_tables(), config, report="/tmp/o/report.html")


def test_webhook_channel_posts_subject_and_body(receiver: tuple[str, list[dict[str, Any]]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text.notify import send_alerts

    url, received = receiver
    monkeypatch.setenv("NPS_TEST_HOOK", f"{url}/hook?token=abc")
    config = _config([{"name": "drop", "type": "nps_drop", "channels": ["hook"]}])
    results = send_alerts(_drop_alerts(config), config.alerts)
    assert results == [{"rule": "drop", "kind": "nps_drop", "channel": "hook", "type": "webhook", "status": "sent"}]
    assert len(received) == 1  # one message per triggered rule
    payload = json.loads(received[0]["body"])
    assert payload["subject"].startswith("NPS-Alarm (drop)")
    assert "Filiale = Berlin" in payload["body"] and "/tmp/o/report.html" in payload["body"]


def test_failed_channel_is_reported_without_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text import notify
    from nps_text.notify import send_alerts

    monkeypatch.setattr(notify, "RETRY_DELAY_SECONDS", 0.0)

    server, received = _serve(status=500)
    try:
        secret_url = f"http://127.0.0.1:{server.server_address[1]}/hook/SECRET-TOKEN"
        monkeypatch.setenv("NPS_TEST_HOOK", secret_url)
        config = _config([{"name": "drop", "type": "nps_drop", "channels": ["hook", "missing-env"]}],
                         channels={"hook": {"type": "webhook", "url_env": "NPS_TEST_HOOK"},
                                   "missing-env": {"type": "slack", "url_env": "NPS_TEST_UNSET"}})
        monkeypatch.delenv("NPS_TEST_UNSET", raising=False)
        results = send_alerts(_drop_alerts(config), config.alerts)
    finally:
        server.shutdown()
    assert [row["status"] for row in results] == ["failed", "failed"]
    assert len(received) == notify.CHANNEL_ATTEMPTS  # HTTP 500 is transient: tried again, then reported
    assert results[0]["attempts"] == notify.CHANNEL_ATTEMPTS
    assert "attempts" not in results[1]  # a missing environment variable (ConfigError) is never retried
    assert "SECRET-TOKEN" not in json.dumps(results)
    assert "NPS_TEST_UNSET" in results[1]["error"]


def test_a_channel_that_recovers_is_sent_on_a_retry_and_404_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text.notify import send_alerts

    flaky, flaky_received = _serve(status=503)
    gone, gone_received = _serve(status=404)
    original = flaky.RequestHandlerClass.do_POST  # type: ignore[attr-defined]

    def recover(handler: Any) -> None:  # 503 once, then 200
        handler.status = 503 if not flaky_received else 200
        original(handler)

    flaky.RequestHandlerClass.do_POST = recover  # type: ignore[attr-defined]
    try:
        monkeypatch.setenv("NPS_TEST_HOOK", f"http://127.0.0.1:{flaky.server_address[1]}/hook")
        monkeypatch.setenv("NPS_TEST_GONE", f"http://127.0.0.1:{gone.server_address[1]}/hook")
        config = _config([{"name": "drop", "type": "nps_drop", "channels": ["hook", "gone"]}],
                         channels={"hook": {"type": "webhook", "url_env": "NPS_TEST_HOOK"},
                                   "gone": {"type": "webhook", "url_env": "NPS_TEST_GONE"}})
        results = send_alerts(_drop_alerts(config), config.alerts, attempts=3, delay=0)
    finally:
        flaky.shutdown()
        gone.shutdown()
    assert [row["status"] for row in results] == ["sent", "failed"]
    assert len(flaky_received) == 2 and len(gone_received) == 1  # 503 retried; 404 is permanent


def test_delivery_failures_give_one_scrubbed_line_per_channel() -> None:
    from nps_text.notify import delivery_failures

    rows = [
        {"rule": "drop", "channel": "cx", "type": "webhook", "status": "failed",
         "error": "HTTPStatusError: Server error '503' for url 'http://hooks.example.com/T0/SECRET'"},
        {"rule": "below", "channel": "cx", "type": "webhook", "status": "failed", "error": "ConnectError: refused"},
        {"rule": "drop", "channel": "mail", "type": "email", "status": "sent"},
    ]
    assert delivery_failures(rows) == ["alert channel 'cx' (webhook) failed for rules drop, below: ConnectError: refused"]
    assert "SECRET" not in delivery_failures(rows[:1])[0] and "<url>" in delivery_failures(rows[:1])[0]
    assert delivery_failures(rows[2:]) == []


def test_alerts_on_failure_setting() -> None:
    assert _config([]).alerts.on_failure == "fail"
    assert _config([], on_failure="warn").alerts.on_failure == "warn"
    with pytest.raises(ConfigError, match="on_failure"):
        _config([], on_failure="ignore")


def test_slack_channel_through_prefects_slack_block(receiver: tuple[str, list[dict[str, Any]]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from apprise.plugins.slack import NotifySlack

    from nps_text.notify import send_alerts

    url, received = receiver
    monkeypatch.setattr(NotifySlack, "webhook_url", f"{url}/services")  # hooks.slack.com -> local receiver
    monkeypatch.setenv("NPS_TEST_SLACK", "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX")
    config = _config([{"name": "drop", "type": "nps_drop", "channels": ["slack"]}],
                     channels={"slack": {"type": "slack", "url_env": "NPS_TEST_SLACK"}})
    results = send_alerts(_drop_alerts(config), config.alerts)
    assert results[0]["status"] == "sent", results
    assert received[0]["path"] == "/services/T0000/B0000/XXXXXXXX"
    assert "Filiale = Berlin" in json.dumps(json.loads(received[0]["body"]), ensure_ascii=False)


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_teams_channel_through_prefects_teams_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text.notify import send_alerts

    server, received = _serve(tls=_self_signed(tmp_path))
    try:
        port = server.server_address[1]
        monkeypatch.setenv(
            "NPS_TEST_TEAMS",
            f"https://127.0.0.1:{port}/workflows/abc123/triggers/manual/paths/invoke"
            "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGNATURE&verify=no",
        )
        config = _config([{"name": "drop", "type": "nps_drop", "channels": ["teams"]}],
                         channels={"teams": {"type": "teams", "url_env": "NPS_TEST_TEAMS"}})
        results = send_alerts(_drop_alerts(config), config.alerts)
    finally:
        server.shutdown()
    assert results[0]["status"] == "sent", results
    assert received[0]["path"].startswith("/workflows/abc123/triggers/manual/paths/invoke")
    assert "Filiale = Berlin" in json.dumps(json.loads(received[0]["body"]), ensure_ascii=False)


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    messages: list[dict[str, Any]]

    def _reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self._reply("220 localhost test SMTP")
        mail: dict[str, Any] = {"rcpt": []}
        while line := self.rfile.readline().decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._reply("250-localhost")
                self._reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                mail["auth"] = base64.b64decode(line.split()[-1]).split(b"\0")[1:]
                self._reply("235 ok")
            elif verb == "MAIL":
                mail["from"] = line
                self._reply("250 ok")
            elif verb == "RCPT":
                mail["rcpt"].append(line)
                self._reply("250 ok")
            elif verb == "DATA":
                self._reply("354 go ahead")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk)
                mail["data"] = b"".join(data)
                self.messages.append(mail)
                mail = {"rcpt": []}
                self._reply("250 queued")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("250 ok")


def test_email_channel_over_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    import email

    from nps_text.notify import send_alerts

    messages: list[dict[str, Any]] = []
    handler = type("Handler", (_SmtpHandler,), {"messages": messages})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NPS_TEST_SMTP_PASSWORD", "smtp-s3cret")
    try:
        config = _config(
            [{"name": "drop", "type": "nps_drop", "channels": ["mail"]}],
            channels={"mail": {"type": "email", "host": "127.0.0.1", "port": server.server_address[1],
                               "security": "none", "username": "alerts", "password_env": "NPS_TEST_SMTP_PASSWORD",
                               "sender": "alerts@example.com", "to": ["cx@example.com", "lead@example.com"]}},
        )
        results = send_alerts(_drop_alerts(config), config.alerts)
    finally:
        server.shutdown()
        server.server_close()
    assert results == [{"rule": "drop", "kind": "nps_drop", "channel": "mail", "type": "email", "status": "sent"}]
    mail, = messages
    assert mail["auth"] == [b"alerts", b"smtp-s3cret"]
    assert len(mail["rcpt"]) == 2
    parsed = email.message_from_bytes(mail["data"], policy=email.policy.default)
    assert str(parsed["Subject"]).startswith("NPS-Alarm (drop)")
    assert "Filiale = Berlin" in parsed.get_body().get_content()  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_run_sends_alerts_and_lists_them_in_the_manifest(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from nps_text.cli import cli

    url, received = receiver
    responses = _responses()
    _export(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "embeddings: {model: test-hashing}\nsentiment: {enabled: false}\nthemes: {enabled: false}\n"
        "output: {formats: [parquet]}\n"
        "alerts:\n  channels: {hook: {type: webhook, url_env: NPS_TEST_HOOK}}\n"
        "  rules: [{name: drop, type: nps_drop, channels: [hook]}]\n"
    )
    monkeypatch.setenv("NPS_TEST_HOOK", f"{url}/hook")
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "export.csv"), "--config", str(tmp_path / "c.yaml"),
                                      "--out", str(out), "--to-db", f"sqlite:///{tmp_path / 'nps.db'}"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["alerts"] == [
        {"rule": "drop", "kind": "nps_drop", "channel": "hook", "type": "webhook", "status": "sent"}
    ]
    assert manifest["database"]["tables"]["responses"]["inserted"] == len(responses)
    assert len(received) == 1 and str(out.resolve() / "report.html") in json.loads(received[0]["body"])["body"]
    assert url not in json.dumps(manifest)


def _export(tmp_path: Path) -> Path:
    responses = _responses()
    export = pd.DataFrame({
        "id": responses["response_id"], "score": responses["score"], "comment": responses["comment"],
        "date": responses["period"].map({"2026-W01": "2026-01-01", "2026-W02": "2026-01-08"}),
        "Filiale": responses["Filiale"],
    })
    export.to_csv(tmp_path / "export.csv", index=False)
    return tmp_path / "export.csv"


def _run_config(tmp_path: Path, on_failure: str = "fail") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        "embeddings: {model: test-hashing}\nsentiment: {enabled: false}\nthemes: {enabled: false}\n"
        "output: {formats: [parquet]}\n"
        f"alerts:\n  on_failure: {on_failure}\n  channels: {{hook: {{type: webhook, url_env: NPS_TEST_HOOK}}}}\n"
        "  rules: [{name: drop, type: nps_drop, channels: [hook]}]\n"
    )
    return path


@pytest.mark.usefixtures("prefect_harness", "prefect_console")
def test_alerts_go_out_after_the_outputs_are_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nps_text.cli import main

    out = tmp_path / "o"
    server, received = _serve()
    seen: list[bool] = []
    original = server.RequestHandlerClass.do_POST  # type: ignore[attr-defined]

    def checking(handler: Any) -> None:
        seen.append((out / "manifest.json").exists() and (out / "report.html").exists())
        original(handler)

    server.RequestHandlerClass.do_POST = checking  # type: ignore[attr-defined]
    monkeypatch.setenv("NPS_TEST_HOOK", f"http://127.0.0.1:{server.server_address[1]}/hook")
    try:
        main(["run", str(_export(tmp_path)), "--config", str(_run_config(tmp_path)), "--out", str(out)])
    finally:
        server.shutdown()
    assert seen == [True]  # the message links to a published report
    manifest = json.loads((out / "manifest.json").read_text())
    assert [row["status"] for row in manifest["alerts"]] == ["sent"]  # the published manifest was updated
    assert "Error" not in capsys.readouterr().err


@pytest.mark.usefixtures("prefect_harness", "prefect_console")
@pytest.mark.parametrize("on_failure", ["fail", "warn"])
def test_a_failed_alert_is_said_on_the_terminal_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], on_failure: str
) -> None:
    import socket

    from nps_text import notify
    from nps_text.cli import main

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NPS_TEST_HOOK", f"http://127.0.0.1:{port}/hook/SECRET-TOKEN")
    monkeypatch.setattr(notify, "RETRY_DELAY_SECONDS", 0.0)
    out = tmp_path / "o"
    args = ["run", str(_export(tmp_path)), "--config", str(_run_config(tmp_path, on_failure)), "--out", str(out)]
    if on_failure == "fail":
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 3
    else:
        main(args)  # returns: exit code 0
    captured = capsys.readouterr()
    prefix = "Error" if on_failure == "fail" else "Warning"
    [line] = [line for line in captured.err.splitlines() if line.startswith(prefix)]
    assert line == f"{prefix}: alert channel 'hook' (webhook) failed for rule drop: ConnectError: [Errno 111] Connection refused"
    assert "SECRET-TOKEN" not in captured.err + captured.out and "Traceback" not in captured.err
    assert "Outputs in" in captured.out  # published all the same
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["alerts"][0]["status"] == "failed" and manifest["alerts"][0]["attempts"] == notify.CHANNEL_ATTEMPTS
    assert (out / "responses.parquet").exists() and (out / "report.html").exists()


@pytest.mark.parametrize("rule", [
    {"name": "drop", "type": "nps_drop", "channels": ["hook"]},
    {"name": "emerging", "type": "emerging_theme", "channels": ["hook"]},
    {"name": "below", "type": "nps_below", "threshold": 30, "min_responses": 10, "channels": ["hook"]},
])
def test_alert_quotes_come_from_the_period_the_alert_is_about(rule: dict[str, Any]) -> None:
    """Issue 18: an alert about week 2 quotes week 2's detractors, never an older comment of the same kind."""
    responses = _responses()
    older = responses["period"].eq("2026-W01") & responses["comment"].notna()
    responses.loc[older, "comment"] = responses.loc[older, "comment"] + " (Woche 1)"
    alert, = evaluate_alerts(_tables(responses), _config([rule]))
    assert all(finding["period"] == "2026-W02" for finding in alert.findings)
    assert alert.quotes
    assert not [quote for quote in alert.quotes if "Woche 1" in quote]


@pytest.mark.parametrize(
    ("error", "tries"),
    [
        (ConfigError("environment variable NPS_TEST_HOOK (the webhook URL) is not set"), 1),  # permanent
        (InputError("bad"), 1),  # permanent
        (SourceUnavailableError("cannot connect"), 3),  # transient by its class
        (TimeoutError("timed out"), 3),  # transient library error
    ],
)
def test_notify_retries_only_what_the_error_class_calls_transient(
    monkeypatch: pytest.MonkeyPatch, error: Exception, tries: int
) -> None:
    from nps_text import notify
    from nps_text.errors import is_transient

    calls: list[str] = []

    def failing(channel: Any) -> Any:
        calls.append(channel.type)
        raise error

    monkeypatch.setattr(notify, "notification_block", failing)
    config = _config([{"name": "drop", "type": "nps_drop", "channels": ["hook"]}])
    results = notify.send_alerts(_drop_alerts(config), config.alerts, attempts=3, delay=0)
    assert is_transient(error) is (tries > 1)
    assert len(calls) == tries and results[0]["status"] == "failed"
    assert results[0].get("attempts", 1) == tries
