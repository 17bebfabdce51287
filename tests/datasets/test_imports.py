"""Importing rows: CSV and JSON Lines, line-numbered refusals, limits, and nothing half-imported."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEntry
from datasets import store
from datasets.models import Dataset, DatasetRow, Source

pytestmark = pytest.mark.django_db


def csv_with_bad_lines(rows: int, bad: set[int]) -> bytes:
    """A header, then `rows` rows of three fields; the rows on the lines in `bad` have four."""
    lines = ["subject,body,priority"]
    for line in range(2, rows + 2):
        lines.append(f"Ticket {line},text {line},low,extra" if line in bad else f"Ticket {line},text {line},low")
    return ("\n".join(lines) + "\n").encode()


def upload(workspace, owner, data: bytes, filename="tickets.csv", chosen="", name="Tickets"):
    file = SimpleUploadedFile(filename, data, "text/csv")
    return store.from_upload(workspace, store.DatasetSpec(name), file, chosen, owner.user)


def test_it_imports_a_csv_with_its_header_as_keys(workspace, owner):
    data = b'subject,body\n"Refund, please","Line one\nline two"\n\nLogin broken,Cannot sign in\n'
    dataset = upload(workspace, owner, data)
    assert dataset.source == Source.CSV
    assert dataset.columns == ["subject", "body"]
    rows = list(dataset.rows.order_by("position").values_list("data", "line"))
    # The second row starts on line 5: the first spans lines 2 and 3, line 4 is blank.
    assert rows == [
        ({"subject": "Refund, please", "body": "Line one\nline two"}, 2),
        ({"subject": "Login broken", "body": "Cannot sign in"}, 5),
    ]
    assert AuditEntry.objects.filter(action="dataset.created", target_id=str(dataset.pk)).exists()


def test_it_refuses_a_1000_row_csv_with_3_malformed_rows_naming_their_lines(workspace, owner):
    with pytest.raises(store.DatasetInvalid) as refused:
        upload(workspace, owner, csv_with_bad_lines(1000, {17, 503, 1001}))
    assert refused.value.field == "file"
    assert [problem["line"] for problem in refused.value.problems] == [17, 503, 1001]
    assert str(refused.value).startswith("3 rows are malformed, nothing was imported: line 17: 4 fields")
    assert Dataset.objects.count() == 0
    assert DatasetRow.objects.count() == 0


def test_it_imports_the_clean_1000_row_csv(workspace, owner):
    dataset = upload(workspace, owner, csv_with_bad_lines(1000, set()))
    assert dataset.row_count == dataset.rows.count() == 1000
    assert dataset.rows.get(position=999).data == {"subject": "Ticket 1001", "body": "text 1001", "priority": "low"}


def test_it_names_a_quote_that_never_closes(workspace, owner):
    with pytest.raises(store.DatasetInvalid) as refused:
        upload(workspace, owner, b'a,b\n1,2\n3,"4\n5,6\n')
    assert [problem["line"] for problem in refused.value.problems] == [3]
    assert "not valid CSV" in refused.value.problems[0]["message"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"a,,c\n1,2,3\n", "column 2 of the header has no name"),
        (b"a,b,a\n1,2,3\n", "names the column 'a' twice"),
        (b"a,b\n", "there are no rows"),
        (b"a,b\n\xff\xfe,1\n", "not UTF-8 text (line 2"),
    ],
)
def test_it_refuses_a_csv_without_usable_rows(workspace, owner, data, message):
    with pytest.raises(store.DatasetInvalid, match=message.replace("(", r"\(")):
        upload(workspace, owner, data)
    assert Dataset.objects.count() == 0


def test_it_imports_json_lines_and_names_the_bad_ones(workspace, owner):
    good = b'{"subject": "Refund", "tags": ["billing"]}\n\n{"subject": "Login", "priority": 2}\n'
    dataset = upload(workspace, owner, good, filename="tickets.jsonl")
    assert dataset.source == Source.JSONL
    assert dataset.columns == ["subject", "tags", "priority"]
    assert [row.line for row in dataset.rows.order_by("position")] == [1, 3]
    bad = b'{"subject": "ok"}\n[1, 2]\n{"subject": \n' + b'{"a":' * 70 + b"1" + b"}" * 70 + b"\n"
    with pytest.raises(store.DatasetInvalid) as refused:
        upload(workspace, owner, bad, filename="more.jsonl", name="More")
    problems = refused.value.problems
    assert [(problem["line"], problem["message"][:20]) for problem in problems] == [
        (2, "must be a JSON objec"),
        (3, "not JSON: Expecting "),
        (4, "nested deeper than 6"),
    ]


def test_it_takes_the_format_chosen_over_the_file_name(workspace, owner):
    dataset = upload(workspace, owner, b'{"a": 1}\n', filename="export.txt", chosen="jsonl")
    assert dataset.rows.get().data == {"a": 1}
    with pytest.raises(store.DatasetInvalid, match="choose the format") as refused:
        upload(workspace, owner, b"a\n1\n", filename="export.txt", name="Other")
    assert refused.value.field == "format"


def test_it_refuses_more_rows_than_the_limit(workspace, owner, settings):
    settings.DATASET_MAX_ROWS = 5
    with pytest.raises(store.DatasetInvalid, match="more than 5 rows"):
        upload(workspace, owner, csv_with_bad_lines(6, set()))
    assert upload(workspace, owner, csv_with_bad_lines(5, set())).row_count == 5


def test_it_refuses_a_file_over_the_size_limit_before_reading_it(workspace, owner, settings):
    settings.DATASET_MAX_BYTES = 2048
    with pytest.raises(store.DatasetInvalid, match="over the limit of 2,048") as refused:
        upload(workspace, owner, csv_with_bad_lines(200, set()))
    assert refused.value.field == "file"


def test_it_refuses_rows_whose_json_is_over_the_size_limit(workspace, owner, settings):
    settings.DATASET_MAX_BYTES = 1024
    rows = [{"text": "x" * 400} for _ in range(3)]
    with pytest.raises(store.DatasetInvalid, match="as JSON, over the limit of 1,024"):
        store.from_rows(workspace, store.DatasetSpec("Big"), rows, owner.user)
    assert Dataset.objects.count() == 0


def test_it_names_rows_that_are_not_objects(workspace, owner):
    with pytest.raises(store.DatasetInvalid) as refused:
        store.from_rows(workspace, store.DatasetSpec("Rows"), [{"a": 1}, "text", {"a": 2}, None], owner.user)
    assert refused.value.problems == [
        {"path": "rows[1]", "message": "must be a JSON object, not a string"},
        {"path": "rows[3]", "message": "must be a JSON object, not null"},
    ]


def test_it_refuses_a_second_dataset_of_the_same_name_keeping_the_first(workspace, owner):
    first = store.from_rows(workspace, store.DatasetSpec("Tickets"), [{"a": 1}], owner.user)
    with pytest.raises(store.DatasetInvalid, match="already exists") as refused:
        store.from_rows(workspace, store.DatasetSpec("Tickets"), [{"a": 2}, {"a": 3}], owner.user)
    assert refused.value.field == "name"
    assert list(DatasetRow.objects.values_list("dataset_id", flat=True)) == [first.pk]
