"""The cost report's figures: every table adds up to the CostEntry rows it summarises."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from costs.page import ReportQuery, report
from costs.per_run import per_run, rank_pair, top_runs
from costs.reports import GROUPINGS, Filters, totals
from costs.timeline import periods, spend_over_time
from engine.models import CostEntry
from tests.costs.billing import bill, run_in

pytestmark = pytest.mark.django_db


def filters(owner, **changes) -> Filters:
    today = timezone.localdate()
    return Filters(
        **{"workspace_id": owner.workspace_id, "since": today - timedelta(days=29), "until": today, **changes}
    )


def expected(entries, keys):
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, Decimal(0), Decimal(0)])
    for entry in entries:
        key = tuple(
            (getattr(entry, name) or 0) if name in ("workflow_id", "version_number") else getattr(entry, name)
            for name in keys
        )
        row = sums[key]
        for index, value in enumerate(
            (1, int(entry.cached), entry.tokens_in, entry.tokens_out, entry.cost, entry.saved)
        ):
            row[index] += value
    return dict(sums)


@pytest.mark.parametrize("key", list(GROUPINGS))
def test_it_totals_each_grouping_to_the_sum_of_its_cost_entries(owner, spend, key):
    grouping = GROUPINGS[key]
    table = report(ReportQuery(filters(owner)))[key]

    entries = CostEntry.objects.filter(workspace=owner.workspace)
    width = len(grouping.headers)
    found = {}
    for row in table.rows:
        cells = zip(row, grouping.headers, strict=False)
        keys = [0 if (header, cell) == ("Version", "draft") else cell for cell, header in cells if header != "Workflow"]
        found[tuple(keys)] = row[width:]
    assert found == {key: sums for key, sums in expected(entries, grouping.keys).items()}
    assert sum(row[-2] for row in table.rows) == sum(entry.cost for entry in entries)


def test_it_counts_tokens_savings_and_test_spend_in_the_totals(owner, spend):
    figures = totals(filters(owner))

    entries = list(CostEntry.objects.filter(workspace=owner.workspace))
    assert figures.cost == sum(entry.cost for entry in entries)
    assert figures.tokens_in == sum(entry.tokens_in for entry in entries)
    assert figures.tokens_out == sum(entry.tokens_out for entry in entries)
    assert (figures.cached_calls, figures.saved) == (1, Decimal("0.007500"))
    assert figures.test_cost == CostEntry.objects.get(run=spend.test_run).cost > 0


def test_it_narrows_by_dates_workflow_and_model(owner, spend):
    today = timezone.localdate()
    narrow = filters(owner, since=today - timedelta(days=2), workflow_id=7, model="gpt-x")

    entries = CostEntry.objects.filter(
        workspace=owner.workspace, workflow_id=7, model="gpt-x", created_at__date__gte=narrow.since
    )
    assert totals(narrow).cost == sum(entry.cost for entry in entries)
    assert totals(narrow).calls == entries.count() == 5


def test_it_buckets_spend_per_week_and_month_with_every_period_shown(owner, spend):
    for bucket in ("day", "week", "month"):
        table = spend_over_time(filters(owner), bucket, "model")

        whole = filters(owner)
        assert [row[0] for row in table.rows] == [p.isoformat() for p in periods(whole.since, whole.until, bucket)]
        assert sum(row[-1] for row in table.rows) == totals(filters(owner)).cost
        assert table.headers[1:-1] == ["gpt-x", "gpt-mini"]
        for row in table.rows:
            assert row[-1] == sum(row[1:-1])


def test_it_sums_small_series_as_other_beyond_eight(owner, spend):
    for n in range(10):
        bill(run_in(owner.workspace, workflow_id=100 + n, workflow_name=f"W{n}", trigger_kind="api"))
    table = spend_over_time(filters(owner), "month", "workflow")

    assert len(table.headers) == 1 + 8 + 1
    assert table.headers[-2] == "Other"
    assert sum(row[-1] for row in table.rows) == totals(filters(owner)).cost


def test_it_reports_mean_median_and_p95_per_production_run(owner, spend):
    runs = [*spend.triage, spend.refunds]
    costs = sorted(sum((e.cost for e in CostEntry.objects.filter(run=run)), Decimal(0)) for run in runs)
    [[count, mean, p50, p95, most]] = per_run(filters(owner)).rows

    assert count == len(runs) == 7
    assert mean == (sum(costs, Decimal(0)) / len(costs)).quantize(Decimal("0.000001"))
    assert p50 == costs[3]
    # percentile_cont: rank 0.95 x 6 = 5.7, so 70 % of the way from the 6th to the 7th value.
    assert p95 == (costs[5] + (costs[6] - costs[5]) * Decimal("0.7")).quantize(Decimal("0.000001"))
    assert most == costs[-1]


def test_it_finds_the_ranks_around_a_percentile():
    assert rank_pair(7, 0.95) == (5, 6, pytest.approx(0.7))
    assert rank_pair(7, 0.5) == (3, 4, 0)
    assert rank_pair(1, 0.95) == (0, 0, 0)


def test_it_agrees_with_postgresql_percentile_cont(owner, spend):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY cost), percentile_cont(0.95) WITHIN GROUP "
            "(ORDER BY cost) FROM engine_run WHERE workspace_id = %s AND NOT is_test AND cost > 0",
            [owner.workspace_id],
        )
        expected = [Decimal(str(value)).quantize(Decimal("0.000001")) for value in cursor.fetchone()]
    [[_count, _mean, p50, p95, _most]] = per_run(filters(owner)).rows

    assert [p50, p95] == expected


def test_it_reports_per_run_cost_of_one_model_when_filtered(owner, spend):
    [[count, mean, p50, p95, most]] = per_run(filters(owner, model="gpt-mini")).rows

    costs = sorted(CostEntry.objects.get(run=run, model="gpt-mini").cost for run in spend.triage)
    places = Decimal("0.000001")
    assert count == len(spend.triage) == 6
    assert mean == (sum(costs, Decimal(0)) / 6).quantize(places)
    assert p50 == ((costs[2] + costs[3]) / 2).quantize(places)  # rank 2.5
    assert p95 == (costs[4] + (costs[5] - costs[4]) * Decimal("0.75")).quantize(places)  # rank 4.75
    assert most == costs[-1]


def test_it_lists_the_most_expensive_production_runs_linked(owner, spend):
    table = top_runs(filters(owner))

    assert table.rows[0][0] == spend.refunds.pk
    assert spend.test_run.pk not in [row[0] for row in table.rows]
    assert [row[-1] for row in table.rows] == sorted((row[-1] for row in table.rows), reverse=True)
    assert table.links[0] == f"/runs/{spend.refunds.pk}/"


def test_it_never_counts_another_workspace(owner, outsider, spend):
    entries = CostEntry.objects.filter(workspace=owner.workspace)

    assert totals(filters(owner)).cost == sum(entry.cost for entry in entries)
    assert totals(filters(outsider)).calls == 1
