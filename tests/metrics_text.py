"""Reading /metrics in tests: the scrape as a mapping of (sample name, labels) to value."""

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-test-token"


def scrape(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sample's value; 0 when it is absent (a counter nothing incremented yet)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)
