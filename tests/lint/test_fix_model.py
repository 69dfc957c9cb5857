"""A fix is data on its finding: it survives the lint cache and xdist transport (to_dict /
from_dict) and rejects what this tool did not write."""

from __future__ import annotations

import json

import pytest

from gradcheck_kit.report.findings import Edit, Finding, Fix


def finding(fix: Fix | None) -> Finding:
    return Finding("GCK005", "squashed-twice", "m", "model.py", 3, 5, 3, 20, fix=fix)


def test_a_fix_round_trips_through_json() -> None:
    fix = Fix("remove the sigmoid", "safe", (Edit(3, 5, 3, 20, "logits"),))
    data = json.loads(json.dumps(finding(fix).to_dict()))
    assert data["fix"] == {
        "message": "remove the sigmoid",
        "applicability": "safe",
        "edits": [
            {
                "line": 3,
                "column": 5,
                "end_line": 3,
                "end_column": 20,
                "content": "logits",
                "cell": None,
            }
        ],
    }
    assert Finding.from_dict(data) == finding(fix)
    assert Finding.from_dict(json.loads(json.dumps(finding(None).to_dict()))) == finding(None)


@pytest.mark.parametrize(
    "bad",
    [
        {"message": "m", "applicability": "maybe", "edits": [[3, 5, 3, 20, "x"]]},
        {"message": "m", "applicability": "safe", "edits": []},
        {"message": "m", "applicability": "safe", "edits": [{"line": 1}]},
        {"message": "m", "applicability": "safe"},
    ],
)
def test_a_fix_this_tool_did_not_write_is_rejected(bad: object) -> None:
    data = finding(None).to_dict() | {"fix": bad}
    with pytest.raises(ValueError):
        Finding.from_dict(data)
