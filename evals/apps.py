from django.apps import AppConfig


class EvalsConfig(AppConfig):
    name = "evals"
    verbose_name = "Evaluations"

    def ready(self) -> None:
        # Registers the eval_score node kind with the engine (the engine imports no app), and takes reviewer
        # corrections from approvals' `decided` signal (approvals never imports evals).
        import evals.corrections
        import evals.nodes  # noqa: F401
