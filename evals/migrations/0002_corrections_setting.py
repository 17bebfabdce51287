"""Auto-adding reviewer corrections moves from a flag per eval set to a setting per workflow: a workflow with
flagged sets keeps auto-add, into the first of them that was created (before, each flagged set took a copy)."""

import django.db.models.deletion
from django.db import migrations, models


def flags_to_settings(apps, schema_editor):
    EvalSet = apps.get_model("evals", "EvalSet")
    CorrectionsSetting = apps.get_model("evals", "CorrectionsSetting")
    chosen = {}
    for eval_set in EvalSet.objects.filter(auto_add_corrections=True).order_by("created_at", "id"):
        chosen.setdefault(eval_set.workflow_id, eval_set)
    CorrectionsSetting.objects.bulk_create(
        CorrectionsSetting(workflow_id=workflow_id, auto_add=True, eval_set=eval_set)
        for workflow_id, eval_set in chosen.items()
    )


def settings_to_flags(apps, schema_editor):
    EvalSet = apps.get_model("evals", "EvalSet")
    CorrectionsSetting = apps.get_model("evals", "CorrectionsSetting")
    chosen = CorrectionsSetting.objects.filter(auto_add=True, eval_set__isnull=False).values_list("eval_set_id")
    EvalSet.objects.filter(pk__in=chosen).update(auto_add_corrections=True)


class Migration(migrations.Migration):
    dependencies = [
        ("builder", "0004_schedule_dataset"),
        ("evals", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CorrectionsSetting",
            fields=[
                (
                    "workflow",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="eval_corrections",
                        serialize=False,
                        to="builder.workflow",
                    ),
                ),
                ("auto_add", models.BooleanField(default=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "eval_set",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="evals.evalset",
                    ),
                ),
            ],
        ),
        migrations.RunPython(flags_to_settings, settings_to_flags),
        migrations.RemoveField(model_name="evalset", name="auto_add_corrections"),
    ]
