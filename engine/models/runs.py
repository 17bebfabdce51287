"""Runs, their node runs and events, the effect ledger and the node result cache.

The status fields of Run and NodeRun change only through engine/runs.py, which pairs every
change with a RunEvent in the same transaction (tests/engine/test_status_owner.py checks that
no other module writes one).
"""

from django.conf import settings
from django.db import models

from accounts.models import Workspace, WorkspaceOwned


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class NodeStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the node raised
    CRASHED = "crashed"  # the worker or infrastructure died under it
    SKIPPED = "skipped"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class TriggerKind(models.TextChoices):
    MANUAL = "manual"
    API = "api"
    WEBHOOK = "webhook"
    SCHEDULE = "schedule"
    TEST = "test"
    # Started by a subworkflow or for_each node of another run (engine/runs/children.py).
    PARENT = "parent"


class RunPurpose(models.TextChoices):
    """Why a run exists. An evaluation records what its side effects would have sent instead of sending
    them, and its model spend is reported apart (docs/evaluations.md)."""

    WORK = "", "work"
    EVALUATION = "evaluation"


ENDED_RUN = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class Run(WorkspaceOwned):
    # Indexes are few on purpose (docs/engine.md, "Storage"): a run's row is written two or three
    # times on its way (its claim, its end), and an update that changes no indexed column can stay
    # on its page (a HOT update) instead of adding an entry to every index. So nothing indexes the
    # columns a run's progress writes (status, started_at, finished_at, last_seq, output, error), and
    # the workspace is looked up through run_by_workspace, which leads with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Ids rather than foreign keys: the engine imports no app, and a run outlives edits to
    # its workflow because it keeps its own copy of the graph.
    workflow_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    workflow_name = models.CharField(max_length=200, blank=True)
    version_id = models.BigIntegerField(null=True, blank=True)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    graph = models.JSONField()
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    escalation_reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger_kind = models.CharField(max_length=16, choices=TriggerKind.choices, default=TriggerKind.MANUAL)
    is_test = models.BooleanField(default=False)
    purpose = models.CharField(max_length=16, choices=RunPurpose.choices, default=RunPurpose.WORK, blank=True)
    # Set only by the code that starts the run (start_for_each), never from input: the graph its
    # for_each node calls instead of a published version (an evaluation of a draft).
    called_graph = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    last_seq = models.PositiveIntegerField(default=0)
    # A client's Idempotency-Key: the same key for the same workflow returns the same run.
    idempotency_key = models.CharField(max_length=200, blank=True)
    # Where to POST a signed notice when the run ends (engine/webhooks.py).
    callback_urls = models.JSONField(default=list, blank=True)
    # A child run (engine/runs/children.py): the run and node that started it, that node's round
    # (`parent_attempt`), the item it runs (0 for a sub-workflow), how deep it is and its tree's top.
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="child_runs", db_index=False
    )
    parent_node_id = models.CharField(max_length=64, blank=True)
    parent_attempt = models.PositiveIntegerField(null=True, blank=True)
    item_index = models.PositiveIntegerField(null=True, blank=True)
    depth = models.PositiveSmallIntegerField(default=0)
    root_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # False from a child run's start until its parent's round has counted its end
    # (engine/runs/child_tally.py): an ended child not yet counted is one the tally owes.
    counted = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="run_by_workspace"),
            # Run lists show top-level runs unless asked: a batch's thousands of item runs stay out of the way.
            models.Index(
                fields=["workspace", "-created_at"], condition=models.Q(parent_run__isnull=True), name="top_level_run"
            ),
            # The cost report's per-run figures (costs/per_run.py) read only these: runs in a
            # date range with their cost, and the costliest runs first.
            models.Index(
                fields=["workspace", "created_at"],
                include=["cost", "workflow_id"],
                condition=models.Q(is_test=False, cost__gt=0),
                name="run_billed_by_time",
            ),
            models.Index(
                fields=["workspace", "-cost"],
                include=["created_at", "workflow_id"],
                condition=models.Q(is_test=False, cost__gt=0),
                name="run_costliest",
            ),
            # The child runs a tally (or the reaper) looks for: few at any time, however many runs there are.
            models.Index(fields=["parent_run"], condition=models.Q(counted=False), name="uncounted_child_run"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "workflow_id", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_run_per_idempotency_key",
            ),
            # However often a message is redelivered or a worker dies, one item of one round has one child.
            models.UniqueConstraint(
                fields=["parent_run", "parent_node_id", "parent_attempt", "item_index"],
                condition=models.Q(parent_run__isnull=False),
                name="one_child_run_per_item",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow_name or 'a workflow'}"


class ChildRoundState(models.TextChoices):
    OPEN = "open"  # children run; the node waits
    CLOSED = "closed"  # every item ended (or the round stopped): the node gathers the results
    SPENT = "spent"  # failed or abandoned: the node's next execution opens a new round


class ChildRound(models.Model):
    """The child runs a subworkflow or for_each node starts in one round (engine/runs/children.py).

    A node's first execution opens round 1; a retry of the node (its policy, or "retry from the
    failed node") opens the next, which keeps the items whose child succeeded with the same
    input. Every change happens under the parent run's lock.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="child_rounds")
    node_id = models.CharField(max_length=64)
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)
    # The called workflow, as the node resolved it when the round opened.
    workflow_id = models.BigIntegerField()
    workflow_name = models.CharField(max_length=200, blank=True)
    version_id = models.BigIntegerField(null=True, blank=True)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    graph = models.JSONField()
    # Items in all, items carried from an earlier round, and how many of the round's own items
    # (ChildItem, in their order) have started.
    total = models.PositiveIntegerField(default=0)
    carried = models.PositiveIntegerField(default=0)
    started = models.PositiveIntegerField(default=0)
    running = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    max_concurrency = models.PositiveIntegerField(default=10)
    stop_on_failure = models.BooleanField(default=True)
    # Copied to every child: the parent's test flag and starter, the children's depth and tree top.
    is_test = models.BooleanField(default=False)
    purpose = models.CharField(max_length=16, choices=RunPurpose.choices, default=RunPurpose.WORK, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    child_depth = models.PositiveSmallIntegerField(default=1)
    root_run_id = models.BigIntegerField()
    state = models.CharField(max_length=8, choices=ChildRoundState.choices, default=ChildRoundState.OPEN)
    # Why the round stopped early: the first failed item (stop) or the budget ({code, message, index, run_id}).
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "node_id", "number"], name="one_child_round_per_number")]

    def __str__(self) -> str:
        return f"round {self.number} of {self.node_id} in run {self.run_id}"


class ChildItem(models.Model):
    """An item a round runs (carried items have none): its place in the round's order, its index, the child's input.

    A row each, so that starting the next item reads one small row, not the whole list.
    """

    round = models.ForeignKey(ChildRound, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    index = models.PositiveIntegerField()
    input = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "position"], name="one_child_item_per_position")]

    def __str__(self) -> str:
        return f"item {self.index} of {self.round}"


class NodeRun(models.Model):
    # Looked up by run through one_node_run_per_node, which leads with it: an index of its own would be one
    # more entry to write at every claim and outcome.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="node_runs", db_index=False)
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=NodeStatus.choices, default=NodeStatus.PENDING)
    attempt = models.PositiveIntegerField(default=0)
    crashes = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # The output handle a branching node chose; blank means all its outputs are active.
    handle = models.CharField(max_length=64, blank=True)
    # Set when the node may run (now, after a backoff, or when a wait ends); null = not ready.
    wake_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    resume = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    cache_hit = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="one_node_run_per_node")]
        # What the reaper and the lease holders look for: nodes due (ready, retrying, waking up) and running ones.
        # Partial, so that a node's other versions (not yet ready, ended) add no entry to either.
        indexes = [
            models.Index(fields=["wake_at"], condition=models.Q(wake_at__isnull=False), name="node_run_due"),
            models.Index(
                fields=["lease_expires_at"], condition=models.Q(status=NodeStatus.RUNNING), name="node_run_lease"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.node_id} in run {self.run_id}"


class RunEvent(models.Model):
    # Looked up by run through one_event_per_seq, which leads with it.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    node_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_event_per_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type} {self.node_id}".strip()


class EffectStatus(models.TextChoices):
    IN_FLIGHT = "in_flight"
    DONE = "done"


class Effect(models.Model):
    """One external side effect of a node, done at most once per run, node and key."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="effects")
    node_id = models.CharField(max_length=64)
    key = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=EffectStatus.choices, default=EffectStatus.IN_FLIGHT)
    result = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    # Who is doing an in_flight effect (the node attempt and its lease owner), and until when its call
    # may still be in flight: a later attempt waits for that holder's outcome instead of repeating it.
    holder = models.CharField(max_length=128, blank=True)
    holder_attempt = models.PositiveIntegerField(default=0)
    held_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "node_id", "key"], name="one_effect_per_key")]

    def __str__(self) -> str:
        return f"{self.key} of {self.node_id} in run {self.run_id}: {self.status}"


class CachedResult(WorkspaceOwned):
    key = models.CharField(max_length=64)
    node_type = models.CharField(max_length=64)
    output = models.JSONField(null=True, blank=True)
    handle = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="one_cached_result_per_key")]

    def __str__(self) -> str:
        return f"{self.node_type} result {self.key[:12]}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One notice that a run ended, to one URL, retried with backoff until delivered or given up."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="deliveries")
    url = models.URLField(max_length=2000)
    event_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_id} to {self.url}: {self.status}"
