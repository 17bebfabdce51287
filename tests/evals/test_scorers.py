"""Each scorer kind on a passing and a failing row, and the settings each refuses, naming the field. Similarity and
the judge are billed model calls, scored in eval runs (test_eval_runs.py)."""

import pytest

from evals.scorers import ScorerInvalid, ScorerSpec, checked, score_plain


def spec(kind: str, config: dict | None = None, threshold: float = 1.0) -> ScorerSpec:
    return checked(ScorerSpec("s", kind, "", config or {}, threshold))


@pytest.mark.parametrize(
    ("kind", "config", "got", "want", "passed"),
    [
        ("exact", {}, "billing", "billing", True),
        ("exact", {}, "Billing", "billing", False),
        ("exact", {"ignore_case": True}, "Billing", "billing", True),
        ("exact", {}, {"a": 1}, {"a": 1}, True),
        ("contains", {}, "Your refund is on its way", "refund", True),
        ("contains", {"text": "sorry"}, "Your refund is on its way", None, False),
        ("regex", {"pattern": r"order \d+"}, "About order 1042", None, True),
        ("regex", {"pattern": r"order \d+"}, "About your order", None, False),
        ("json_schema", {"schema": {"type": "object", "required": ["label"]}}, {"label": "x"}, None, True),
        ("json_schema", {"schema": {"type": "object", "required": ["label"]}}, {"other": 1}, None, False),
        ("number", {"tolerance": 0.5}, 3.4, 3, True),
        ("number", {"tolerance": 0.5}, "3.6", 3, False),
        ("number", {"tolerance": 0.1, "relative": True}, 105, 100, True),
        ("number", {"tolerance": 1}, "many", 3, False),
    ],
)
def test_it_scores_passing_and_failing_rows(kind, config, got, want, passed):
    score = score_plain(spec(kind, config), got, want)
    assert (score.passed, score.score, score.errored) == (passed, float(passed), False)


@pytest.mark.parametrize(
    ("kind", "config", "threshold", "field"),
    [
        ("regex", {"pattern": "(unclosed"}, 1.0, "config.pattern"),
        ("regex", {}, 1.0, "config.pattern"),
        ("json_schema", {"schema": {"type": "nope"}}, 1.0, "config.schema"),
        ("number", {"tolerance": -1}, 1.0, "config.tolerance"),
        ("judge", {"rubric": ""}, 1.0, "config.rubric"),
        ("judge", {"rubric": "Is it right?", "scale": "1-10"}, 1.0, "config.scale"),
        ("judge", {"rubric": "Is it right?", "scale": "1-5"}, 6.0, "threshold"),
        ("exact", {}, 2.0, "threshold"),
        ("levenshtein", {}, 1.0, "kind"),
    ],
)
def test_it_refuses_bad_settings_naming_the_field(kind, config, threshold, field):
    with pytest.raises(ScorerInvalid) as refused:
        checked(ScorerSpec("s", kind, "", config, threshold))
    assert refused.value.field == field


def test_it_refuses_a_field_that_is_not_a_path():
    with pytest.raises(ScorerInvalid) as refused:
        checked(ScorerSpec("s", "exact", "reply..text", {}, 1.0))
    assert refused.value.field == "field"


def test_a_pattern_that_backtracks_without_end_is_errored_not_failed():
    # 2**60 ways to split the a's: Python's re would hold the worker scoring the row for ever.
    score = score_plain(spec("regex", {"pattern": "(a|aa)+$"}), "a" * 60 + "!", None)
    assert (score.score, score.passed, score.errored) == (None, False, True)
    assert "ran longer than" in score.detail


def test_a_pattern_matches_ignoring_case_when_asked():
    assert score_plain(spec("regex", {"pattern": "ORDER", "ignore_case": True}), "your order", None).passed
    assert not score_plain(spec("regex", {"pattern": "ORDER"}), "your order", None).passed
