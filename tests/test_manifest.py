"""The run manifest against its contract (:class:`nps_text.manifest.Manifest`): what the flow writes keeps it,
and a manifest that breaks it is refused with every problem named."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from nps_text.errors import SchemaError
from nps_text.manifest import FILE, Manifest, check
from tests.conftest import REPO


@pytest.fixture(scope="module")
def written(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from nps_text.flow import nps_text_flow
    from nps_text.params import RunParameters

    folder = tmp_path_factory.mktemp("manifest")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"embeddings": {"model": "test-hashing"}, "sentiment": {"enabled": False},
                                      "themes": {"enabled": False}, "output": {"formats": ["parquet", "xlsx"]}}))
    returned = nps_text_flow(RunParameters(input=str(REPO / "data" / "demo_de.csv"), out=str(folder / "out"),
                                           config=str(config)))
    on_disk = json.loads((folder / "out" / FILE).read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(returned, default=str))  # the file is what the flow returned
    return dict(on_disk)


def test_the_written_manifest_keeps_its_contract(written: dict[str, Any]) -> None:
    manifest = Manifest.model_validate(written)
    assert set(written) == set(Manifest.model_fields) - {"xlsx_truncated"}  # no key the contract does not name
    assert manifest.rows_in == 600 and manifest.rows_valid + manifest.rows_rejected == 600
    assert manifest.outputs[-1] == FILE and "nps_text.xlsx" in manifest.outputs
    assert manifest.input.format == "csv" and manifest.input.path.endswith("demo_de.csv")
    assert check(written) is written


def test_a_broken_manifest_is_refused_with_every_problem(written: dict[str, Any]) -> None:
    broken = {**written, "rows_rejected": written["rows_rejected"] + 1, "surprise": 1}
    del broken["finished_at"]
    with pytest.raises(SchemaError) as error:
        check(broken)
    message = str(error.value)
    assert "finished_at" in message and "surprise" in message
    unaccounted = {**written, "rows_rejected": written["rows_rejected"] + 1}
    with pytest.raises(SchemaError, match="rows_in 600 != rows_valid"):
        check(unaccounted)
    with pytest.raises(SchemaError, match="outputs must end with manifest.json"):
        check({**written, "outputs": [FILE, "responses.parquet"]})
