"""Tool approvals as the agent loop sees them: ask the reviewers about a proposed call, read their decision.

The review inbox is the approvals app's; it registers a `Reviewer` here (`register_reviewer`),
as builder registers the child-run resolver, so the core imports no app.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accounts.models import Role
from engine.errors import NonRetryableError
from engine.registry import NodeContext


class ToolApproval(BaseModel):
    """Who approves an agent's tool calls, and how: the approval node's rules."""

    model_config = ConfigDict(extra="forbid")
    users: list[int] = Field(default_factory=list, max_length=50, description="user ids")
    roles: list[str] = Field(default_factory=list, max_length=4, description="none listed: owners and reviewers")
    required_approvals: int = Field(1, ge=1, le=10, description="approvals needed (N of the assignees)")
    no_self_approval: bool = Field(False, description="the person who started the run may not decide")
    decide_within_s: float | None = Field(None, gt=0, le=30 * 86400, description="after this, take timeout_action")
    timeout_action: Literal["reject", "approve"] = "reject"

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if role not in Role.values:
                raise ValueError(f"there is no role {role!r}")
        return roles


@dataclass(frozen=True)
class Proposal:
    """A call waiting for approval: `key` is unique per run, node, loop and step."""

    key: str
    tool: str
    description: str
    arguments: dict[str, Any]
    schema: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Review:
    """pending (until `deadline`, if any); approved with `arguments` (edited or not); or rejected with `message`."""

    state: Literal["pending", "approved", "rejected"]
    arguments: dict[str, Any] = field(default_factory=dict)
    edited: bool = False
    message: str = ""
    reviewers: list[str] = field(default_factory=list)
    deadline: datetime | None = None


class Reviewer(Protocol):
    def review(self, ctx: NodeContext, rules: ToolApproval, proposal: Proposal) -> Review:
        """The proposal's review, asked for on the first call (announced once) and read on the next ones;
        past its deadline, the timeout action is taken."""
        ...


_reviewers: list[Reviewer] = []


def register_reviewer(reviewer: Reviewer) -> None:
    _reviewers[:] = [reviewer]


def review(ctx: NodeContext, rules: ToolApproval, proposal: Proposal) -> Review:
    if not _reviewers:
        raise NonRetryableError("No app reviews tool calls (is approvals installed?)", code="no_reviewer")
    return _reviewers[0].review(ctx, rules, proposal)
