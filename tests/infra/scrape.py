"""Reading GET /metrics as Prometheus does, for the metrics tests."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-the-tests-0123456789"


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(found: dict[str, Any], sample_name: str, **labels: str) -> float:
    """The sample's value, 0 when the series does not exist yet (a counter never incremented)."""
    family_name = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    family = found.get(family_name) or found.get(sample_name)
    if family is None:
        return 0.0
    return sum(
        sample.value
        for sample in family.samples
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
