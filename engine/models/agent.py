"""The recorded steps of agent nodes: each model turn, tool call and tool approval of a loop."""

from django.db import models

from engine.models.runs import Run


class StepKind(models.TextChoices):
    MODEL = "model"
    TOOL = "tool"
    APPROVAL = "approval"


class StepStatus(models.TextChoices):
    OK = "ok"
    # The tool answered with an error, or the model named an unknown tool or sent bad arguments.
    ERROR = "error"
    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"


class AgentStep(models.Model):
    """One step of an agent node's loop, written once with its `agent.step` event (engine/runs/agent_steps.py).

    `loop` numbers the node's executions: a crash or a retry continues the loop (recorded steps
    are replayed, never redone); a node that ended and runs again starts the next one. `seq`
    orders a loop: a model turn at seq s asks for n tool calls at s+1 … s+n; an approval shares
    its tool call's seq.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="agent_steps")
    node_id = models.CharField(max_length=64)
    loop = models.PositiveIntegerField()
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    attempt = models.PositiveIntegerField()
    turn = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=StepStatus.choices)
    tool = models.CharField(max_length=64, blank=True)
    call_id = models.CharField(max_length=128, blank=True)
    text = models.TextField(blank=True)
    arguments = models.JSONField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    # model turns: provider, model, tool calls; workflow tools: the child round and run.
    detail = models.JSONField(default=dict, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "node_id", "loop", "seq", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["run", "node_id", "loop", "seq", "kind"], name="one_agent_step_per_seq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} step {self.seq} of {self.node_id} in run {self.run_id}"
