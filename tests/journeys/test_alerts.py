"""Journey: an alert to a real webhook receiver on 127.0.0.1, to one that is down, and with alerts non-fatal.

The user's setup is ``pipeline/alerts.yaml``'s: a ``webhook`` channel whose URL comes from an environment variable,
and a rule that surely triggers on this small weekly survey (its NPS is below 100). Each case runs the real
``nps-text run``; the cron job's view is what is checked: exit code, terminal lines, published outputs.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.journeys.conftest import Result, nps_text, write_csv

pytestmark = pytest.mark.journey

DELIVERY = [
    "Die Lieferung kam zwei Wochen zu spät", "Lieferung dauerte ewig und das Paket kam verspätet",
    "Das Paket wurde viel zu spät zugestellt", "Versand und Lieferung waren sehr langsam",
    "Lieferung erst nach drei Wochen angekommen", "Die Zustellung des Pakets war zu spät",
]
ADVICE = [
    "Die Beratung im Laden war super freundlich", "Sehr kompetente Beratung durch die Verkäuferin",
    "Beratung im Geschäft war hilfreich und nett", "Toller Service und gute Beratung vor Ort",
    "Die Verkäuferin hat mich super beraten", "Freundliche und kompetente Beratung im Laden",
]
CHANNEL_URL_ENV = "NPS_TEXT_WEBHOOK_URL"


def _survey(folder: Path) -> Path:
    rows = [f"{number},{score},{text},2026-03-0{2 + number % 3}"
            for number, (score, text) in enumerate([(2 + i % 4, t) for i, t in enumerate(DELIVERY)]
                                                   + [(8 + i % 3, t) for i, t in enumerate(ADVICE)], start=1)]
    return write_csv(folder / "weekly.csv", "id,score,comment,date", rows)


def _config(folder: Path, name: str, extra: str = "", on_failure: str | None = None) -> Path:
    """``pipeline/alerts.yaml``'s shape: a webhook channel from an environment variable, one rule."""
    path = folder / name
    path.write_text(
        extra
        + "output:\n  formats: [parquet, csv]\n"
        + "alerts:\n"
        + (f"  on_failure: {on_failure}\n" if on_failure else "")
        + "  channels:\n    cx-webhook:\n      type: webhook\n      url_env: " + CHANNEL_URL_ENV + "\n"
        + "  rules:\n    - name: nps-below-100\n      type: nps_below\n      threshold: 100\n"
        + "      min_responses: 1\n      channels: [cx-webhook]\n",
        encoding="utf-8",
    )
    return path


class _Receiver(http.server.BaseHTTPRequestHandler):
    out: Path
    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # what a reader of the output folder sees at the moment the message arrives
        self.received.append({"body": json.loads(body), "manifest_existed": (self.out / "manifest.json").exists(),
                              "report_existed": (self.out / "report.html").exists()})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One user (home folder, working folder, survey) for the module: later runs reuse Prefect's database."""
    root = tmp_path_factory.mktemp("alerts")
    work = root / "work"
    work.mkdir()
    return {"home": root / "home", "work": work, "survey": _survey(work)}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def delivered(user: dict[str, Path]) -> Iterator[tuple[Result, Path, list[dict[str, Any]]]]:
    """The receiver is up: the full default pipeline (real models), one run."""
    out = user["work"] / "out-up"
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Receiver,), {"out": out, "received": received})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/nps"
    try:
        result = nps_text("run", str(user["survey"]), "--config", str(_config(user["work"], "alerts.yaml")),
                          "--out", str(out), cwd=user["work"], home=user["home"], env={CHANNEL_URL_ENV: url},
                          timeout=600)
    finally:
        server.shutdown()
        server.server_close()
    yield result, out, received


def test_an_alert_reaches_the_receiver_once_after_publishing(delivered: tuple[Result, Path, list[dict[str, Any]]]) -> None:
    result, out, received = delivered
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output and "Error" not in result.output and "Warning" not in result.output
    assert len(received) == 1
    assert received[0]["manifest_existed"] and received[0]["report_existed"]  # the link points at a published report
    message = received[0]["body"]
    assert set(message) == {"subject", "body", "name"}
    assert str((out / "report.html").resolve()) in message["body"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["alerts"] == [{"rule": "nps-below-100", "kind": "nps_below", "channel": "cx-webhook",
                                   "type": "webhook", "status": "sent"}]
    assert manifest["rows_valid"] == 12


def test_a_receiver_that_is_down_fails_the_run_after_publishing(user: dict[str, Path]) -> None:
    out = user["work"] / "out-down"
    url = f"http://127.0.0.1:{_closed_port()}/nps/SECRET-TOKEN"
    fast = "sentiment: {enabled: false}\nthemes: {enabled: false}\n"  # the delivery does not depend on the models
    result = nps_text("run", str(user["survey"]), "--config", str(_config(user["work"], "down.yaml", fast)),
                      "--out", str(out), cwd=user["work"], home=user["home"], env={CHANNEL_URL_ENV: url}, timeout=600)
    assert result.returncode == 3, result.output  # README "Exit codes": outputs published, a delivery failed
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert errors == ["Error: alert channel 'cx-webhook' (webhook) failed for rule nps-below-100: "
                      "ConnectError: [Errno 111] Connection refused"]
    assert "Traceback" not in result.output and "SECRET-TOKEN" not in result.output and "127.0.0.1" not in result.output
    assert f"Outputs in {out.resolve()}" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [(row["channel"], row["status"]) for row in manifest["alerts"]] == [("cx-webhook", "failed")]
    assert "SECRET-TOKEN" not in json.dumps(manifest)
    assert (out / "report.html").exists() and (out / "responses.parquet").exists()


def test_alert_failures_can_be_made_non_fatal(user: dict[str, Path]) -> None:
    out = user["work"] / "out-warn"
    url = f"http://127.0.0.1:{_closed_port()}/nps"
    fast = "sentiment: {enabled: false}\nthemes: {enabled: false}\n"
    config = _config(user["work"], "warn.yaml", fast, on_failure="warn")
    result = nps_text("run", str(user["survey"]), "--config", str(config), "--out", str(out),
                      cwd=user["work"], home=user["home"], env={CHANNEL_URL_ENV: url}, timeout=600)
    assert result.returncode == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith(("Warning", "Error"))]
    assert warnings == ["Warning: alert channel 'cx-webhook' (webhook) failed for rule nps-below-100: "
                        "ConnectError: [Errno 111] Connection refused"]
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["alerts"][0]["status"] == "failed"


def _receiving(out: Path) -> tuple[http.server.HTTPServer, str, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Receiver,), {"out": out, "received": received})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/nps", received


def test_an_unchanged_rerun_sends_no_alert_again(
    user: dict[str, Path], delivered: tuple[Result, Path, list[dict[str, Any]]]
) -> None:
    """The weekly job runs twice on the same export: the second run finds the output folder up to date and sends
    nothing (README "Re-runs pay only for what is new")."""
    _, out, _ = delivered
    server, url, received = _receiving(out)
    try:
        result = nps_text("run", str(user["survey"]), "--config", str(_config(user["work"], "alerts.yaml")),
                          "--out", str(out), cwd=user["work"], home=user["home"], env={CHANNEL_URL_ENV: url}, timeout=600)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.output
    assert result.stdout.startswith(f"Up to date: {out} already holds the results of {user['survey']}")
    assert received == [] and result.stderr == ""


def test_an_unchanged_rerun_after_a_failed_alert_fails_again_without_sending(user: dict[str, Path]) -> None:
    """The channel was down in the published run: an unchanged re-run sends nothing (not even to a receiver that is
    up again) and exits 3 with the same line, so the cron job keeps reporting it; --force sends it."""
    out = user["work"] / "out-down-again"
    fast = "sentiment: {enabled: false}\nthemes: {enabled: false}\n"
    config = str(_config(user["work"], "down-again.yaml", fast))
    down = f"http://127.0.0.1:{_closed_port()}/nps"
    first = nps_text("run", str(user["survey"]), "--config", config, "--out", str(out), cwd=user["work"],
                     home=user["home"], env={CHANNEL_URL_ENV: down}, timeout=600)
    assert first.returncode == 3, first.output
    server, url, received = _receiving(out)
    try:
        again = nps_text("run", str(user["survey"]), "--config", config, "--out", str(out), cwd=user["work"],
                         home=user["home"], env={CHANNEL_URL_ENV: url}, timeout=600)
        assert again.returncode == 3, again.output
        assert again.stdout.startswith("Up to date: ") and received == []
        errors = [line for line in again.stderr.splitlines() if line.startswith("Error")]
        assert errors == ["Error: alert channel 'cx-webhook' (webhook) failed for rule nps-below-100: "
                          "ConnectError: [Errno 111] Connection refused"]
        forced = nps_text("run", str(user["survey"]), "--config", config, "--out", str(out), "--force",
                          cwd=user["work"], home=user["home"], env={CHANNEL_URL_ENV: url}, timeout=600)
    finally:
        server.shutdown()
        server.server_close()
    assert forced.returncode == 0, forced.output
    assert len(received) == 1
