"""Global prices (workspace null) for the built-in provider and OpenAI's common models, in US dollars per million tokens.

Later price changes are new rows with a later effective_from (admin), so this seed is never edited.
"""

from datetime import UTC, datetime
from decimal import Decimal

from django.db import migrations

EFFECTIVE = datetime(2025, 1, 1, tzinfo=UTC)
PRICES = [
    ("builtin", "builtin-extractive", "0", "0"),
    ("builtin", "hashing-512", "0", "0"),
    ("openai_compatible", "gpt-5", "1.25", "10.00"),
    ("openai_compatible", "gpt-5-mini", "0.25", "2.00"),
    ("openai_compatible", "gpt-5-nano", "0.05", "0.40"),
    ("openai_compatible", "gpt-4.1", "2.00", "8.00"),
    ("openai_compatible", "gpt-4.1-mini", "0.40", "1.60"),
    ("openai_compatible", "gpt-4.1-nano", "0.10", "0.40"),
    ("openai_compatible", "gpt-4o", "2.50", "10.00"),
    ("openai_compatible", "gpt-4o-mini", "0.15", "0.60"),
    ("openai_compatible", "o3", "2.00", "8.00"),
    ("openai_compatible", "o4-mini", "1.10", "4.40"),
    ("openai_compatible", "text-embedding-3-small", "0.02", "0"),
    ("openai_compatible", "text-embedding-3-large", "0.13", "0"),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("engine", "ModelPrice")
    for kind, model, input_price, output_price in PRICES:
        ModelPrice.objects.get_or_create(
            workspace=None,
            provider_kind=kind,
            model=model,
            effective_from=EFFECTIVE,
            defaults={"input_per_million": Decimal(input_price), "output_per_million": Decimal(output_price)},
        )


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("engine", "ModelPrice")
    for kind, model, _, _ in PRICES:
        ModelPrice.objects.filter(workspace=None, provider_kind=kind, model=model, effective_from=EFFECTIVE).delete()


class Migration(migrations.Migration):
    dependencies = [("engine", "0005_provider_configs_cached_completions_budget_spend")]

    operations = [migrations.RunPython(seed, unseed)]
