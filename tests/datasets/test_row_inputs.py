"""A dataset's rows checked against a workflow's input schema, CSV text taking the schema's types."""

import pytest

from datasets import row_inputs
from datasets.models import DatasetRow

SCHEMA = {
    "type": "object",
    "required": ["subject", "priority"],
    "properties": {
        "subject": {"type": "string", "minLength": 1},
        "priority": {"type": "integer"},
        "score": {"type": ["number", "null"]},
        "urgent": {"type": "boolean"},
    },
}


def rows(*data, line_from=2):
    return [DatasetRow(position=n, line=line_from + n, data=row) for n, row in enumerate(data)]


def test_it_turns_csv_text_into_the_types_the_schema_declares():
    found = row_inputs.check(
        rows(
            {"subject": "Refund", "priority": "2", "score": "0.5", "urgent": "yes", "note": "7"},
            {"subject": "Login", "priority": "-1", "score": "", "urgent": ""},
        ),
        SCHEMA,
        from_text=True,
    )
    assert found == [
        {"subject": "Refund", "priority": 2, "score": 0.5, "urgent": True, "note": "7"},
        {"subject": "Login", "priority": -1, "score": None},
    ]


def test_it_names_the_row_line_and_field_of_each_mismatch():
    with pytest.raises(row_inputs.RowsMismatch) as refused:
        row_inputs.check(
            rows(
                {"subject": "Fine", "priority": "1"},
                {"subject": "Refund", "priority": "high"},
                {"subject": "No priority"},
                {"subject": "", "priority": "3"},
            ),
            SCHEMA,
            from_text=True,
        )
    assert refused.value.count == 3
    assert [(p.row, p.line, p.field) for p in refused.value.problems] == [
        (2, 3, "priority"),
        (3, 4, "priority"),
        (4, 5, "subject"),
    ]
    assert str(refused.value).startswith(
        "3 rows do not match the workflow's input: row 2 (line 3), priority: 'high' is not of type 'integer'"
    )
    assert refused.value.problems[1].as_dict()["path"] == "rows[2].priority"


def test_it_leaves_json_rows_as_they_are():
    with pytest.raises(row_inputs.RowsMismatch) as refused:
        row_inputs.check(rows({"subject": "Refund", "priority": "2"}, line_from=0), SCHEMA, from_text=False)
    assert str(refused.value.problems[0]) == "row 1, priority: '2' is not of type 'integer'"


def test_it_reads_the_triggers_schema_from_a_graph():
    graph = {"nodes": [{"id": "start", "type": "trigger", "params": {"input_schema": SCHEMA}}], "edges": []}
    assert row_inputs.input_schema(graph) == SCHEMA
    assert row_inputs.input_schema({"nodes": [{"id": "start", "type": "trigger"}]}) == {"type": "object"}
