"""The approval node: parks a run until the people assigned decide, then takes the decision's handle."""

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accounts.models import Role
from accounts.permissions import Action, roles_allowed
from engine.registry import Node, NodeContext, NodeResult, register

DecisionName = Literal["approve", "edit_and_approve", "reject", "escalate"]
ALL_DECISIONS: tuple[DecisionName, ...] = ("approve", "edit_and_approve", "reject", "escalate")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Assignees(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[int] = Field(default_factory=list, max_length=50, description="user ids")
    roles: list[str] = Field(default_factory=list, max_length=4, description="every member with this role")

    @field_validator("roles")
    @classmethod
    def roles_that_review(cls, roles: list[str]) -> list[str]:
        allowed = roles_allowed(Action.REVIEW)
        for role in roles:
            if role not in Role.values:
                raise ValueError(f"there is no role {role!r}")
            if role not in allowed:
                raise ValueError(f"members with the role {role!r} may not review; use one of {', '.join(allowed)}")
        return roles


class ContextItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=80)
    value: Any = Field(description="a template, e.g. {{ input.body }} or {{ nodes.classify }}")
    kind: Literal["text", "classification", "sources", "json"] = "text"


class EditableField(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="the key in the node's output `values`")
    label: str = Field("", max_length=80)
    type: Literal["text", "textarea", "number", "boolean"] = "textarea"
    value: Any = Field(None, description="the draft the reviewer starts from, e.g. {{ nodes.generate.text }}")
    required: bool = False

    @field_validator("name")
    @classmethod
    def identifier(cls, name: str) -> str:
        if not FIELD_NAME.match(name):
            raise ValueError("use lower-case letters, digits and _ (at most 40), starting with a letter")
        return name


class ApprovalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("Review", min_length=1, max_length=200)
    instructions: str = Field("", max_length=5000, description="what to check; a template")
    assignees: Assignees = Field(default_factory=Assignees, description="none listed: every owner and reviewer")
    context: list[ContextItem] = Field(default_factory=list, max_length=20)
    fields: list[EditableField] = Field(default_factory=list, max_length=10)
    decisions: list[DecisionName] = Field(default_factory=lambda: list(ALL_DECISIONS), min_length=1)
    required_approvals: int = Field(1, ge=1, le=10, description="approvals needed (N of the assignees)")
    no_self_approval: bool = Field(False, description="the person who started the run may not decide")
    decide_within_s: float | None = Field(None, gt=0, le=30 * 86400, description="after this, take timeout_action")
    timeout_action: Literal["reject", "escalate", "approve"] = "reject"

    @model_validator(mode="after")
    def consistent(self) -> "ApprovalParams":
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("editable field names must be distinct")
        if "edit_and_approve" in self.decisions and not self.fields:
            raise ValueError("edit_and_approve needs at least one editable field")
        if not {"approve", "edit_and_approve"} & set(self.decisions) and self.required_approvals > 1:
            raise ValueError("required_approvals above 1 needs an approve decision")
        return self


@register
class Approval(Node):
    """Asks people to approve, edit and approve, reject or escalate, holding no worker while they think.

    First run: raises an ApprovalRequest (once, however often the node is redelivered),
    emails the assignees once, prompts open inboxes, and parks until the deadline (if any).
    When resumed with a decision, or woken by the deadline (then the timeout action is
    recorded as a decision by "system"), it outputs {decision, values, reviewers, comment,
    decided_at, timed_out} and takes the handle `approved` (approve, edit and approve),
    `rejected` or `escalated`. `values` holds every editable field: the reviewer's edit, or
    the draft when it was not edited.
    """

    kind = "approval"
    label = "Approval"
    category = "People"
    description = "Waits for a person to approve, edit, reject or escalate."
    Params = ApprovalParams
    outputs = ("approved", "rejected", "escalated")
    # Who decides and how must not come from model output (prompt injection must not pick the reviewer).
    literal_params = frozenset(
        {"assignees", "decisions", "required_approvals", "no_self_approval", "decide_within_s", "timeout_action"}
    )

    @classmethod
    def workspace_problems(cls, params: dict[str, Any], workspace_id: int) -> Iterator[tuple[str, str]]:
        from approvals import assignees

        try:
            users = ApprovalParams.model_validate(params).assignees.users
        except ValidationError:
            return  # already reported as bad params
        for index, user_id in assignees.refused(workspace_id, users):
            yield f"assignees.users.{index}", assignees.refusal_message(user_id)

    def run(self, ctx: NodeContext) -> NodeResult:
        from approvals import requests

        if ctx.records_effects:
            return _unreviewed(ctx.params)
        request = requests.open_request(ctx)
        if request.is_pending and ctx.resumed is None:
            ctx.once("notify", lambda: requests.announce(request))
            return NodeResult(park=True, wait_until=request.deadline)
        if request.is_pending and ctx.resumed and ctx.resumed.get("woke"):
            request = requests.time_out(request)
        if request.is_pending:
            # Woken early (a redelivered wake-up message): keep waiting for the same deadline.
            return NodeResult(park=True, wait_until=request.deadline)
        return NodeResult(output=requests.outcome(request), handle=request.handle)


def _unreviewed(params: ApprovalParams) -> NodeResult:
    """An evaluation asks nobody: the draft goes on as if approved unchanged, so the eval scores what
    the workflow drafted (which would have waited for review: `would_review`), and no run waits forever."""
    return NodeResult(
        output={
            "decision": "approve",
            "status": "approved",
            "values": {field.name: field.value for field in params.fields},
            "reviewers": [],
            "comment": "",
            "decided_at": None,
            "timed_out": False,
            "would_review": True,
        },
        handle="approved",
    )
