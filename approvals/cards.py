"""What an item's card shows, shaped for the templates: context by kind, editable fields with diffs, timeline.

Everything here is data; templates escape it. Model output is never marked safe.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User

from accounts.models import AuditEntry, Membership
from approvals import decisions, diffs
from approvals.models import ApprovalRequest, Decision
from approvals.requests import final_values


@dataclass
class ContextEntry:
    label: str
    kind: str
    text: str = ""
    classification: dict[str, Any] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FieldView:
    name: str
    label: str
    type: str
    draft: Any
    value: Any
    diff: list[diffs.Segment]
    edited: bool


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _first(value: dict[str, Any], *keys: str) -> Any:
    return next((value[key] for key in keys if value.get(key) not in (None, "")), None)


def _classification(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {"label": _text(value)}
    reasons = _first(value, "reasons", "reason", "explanation", "rationale")
    confidence = _first(value, "confidence", "score", "probability")
    return {
        "label": _text(_first(value, "label", "category", "class", "name")),
        "confidence": confidence if isinstance(confidence, int | float) else None,
        "reasons": [_text(r) for r in reasons] if isinstance(reasons, list) else ([_text(reasons)] if reasons else []),
        "other": [
            (key, _text(item))
            for key, item in value.items()
            if key not in {"label", "category", "class", "name", "confidence", "score", "probability"}
            and key not in {"reasons", "reason", "explanation", "rationale"}
        ],
    }


def _sources(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    shown: list[dict[str, Any]] = []
    for item in items[:50]:
        if not isinstance(item, dict):
            shown.append({"title": _text(item), "score": None, "text": "", "url": ""})
            continue
        score = _first(item, "score", "similarity", "relevance")
        url = _text(_first(item, "url", "link"))
        shown.append(
            {
                "title": _text(_first(item, "title", "name", "source", "id")) or "Source",
                "score": score if isinstance(score, int | float) else None,
                "text": _text(_first(item, "text", "snippet", "content", "passage")),
                # Only web links become hrefs: a javascript: URL from model output must stay text.
                "url": url if url.startswith(("https://", "http://")) else "",
            }
        )
    return shown


def context_entries(request: ApprovalRequest) -> list[ContextEntry]:
    entries = []
    for item in request.context:
        kind, value = item.get("kind", "text"), item.get("value")
        entry = ContextEntry(label=str(item.get("label", "")), kind=kind)
        if kind == "classification":
            entry.classification = _classification(value)
        elif kind == "sources":
            entry.sources = _sources(value)
        else:
            entry.text = _text(value)
        entries.append(entry)
    return entries


def field_views(request: ApprovalRequest, edits: dict[str, Any] | None = None) -> list[FieldView]:
    """Each editable field with the model's draft, the current text and their difference."""
    current = {**final_values(request), **(edits or {})}
    views = []
    for spec in request.fields:
        draft, value = spec.get("value"), current.get(spec["name"])
        segments = diffs.word_diff(_text(draft), _text(value))
        views.append(
            FieldView(
                name=spec["name"],
                label=spec.get("label") or spec["name"].replace("_", " ").capitalize(),
                type=spec.get("type", "textarea"),
                draft=draft,
                value=value,
                diff=segments,
                edited=diffs.changed(segments),
            )
        )
    return views


def timeline(request: ApprovalRequest) -> list[AuditEntry]:
    entries = AuditEntry.objects.filter(target_type=ApprovalRequest._meta.label_lower, target_id=str(request.pk))
    return list(entries.order_by("created_at", "id")[:200])


def assignee_labels(request: ApprovalRequest) -> list[str]:
    """Who is asked, for people who can see the item: a username only while that user is a member."""
    named = [a.user_id for a in request.assignees.all() if a.user_id]
    members = dict(
        Membership.objects.filter(workspace_id=request.workspace_id, user_id__in=named).values_list(
            "user_id", "user__username"
        )
        if named
        else []
    )
    labels = []
    for assignee in request.assignees.all():
        if assignee.user_id:
            labels.append(members.get(assignee.user_id, "someone no longer in this workspace"))
        else:
            labels.append(f"every {assignee.role}")
    return labels


def card(request: ApprovalRequest, user: User, member: Membership | None) -> dict[str, Any]:
    refusal = decisions.refusal(user, member, request) if request.is_pending else None
    return {
        "approval": request,
        "entries": context_entries(request),
        "fields": field_views(request),
        "timeline": timeline(request),
        "assignees": assignee_labels(request),
        "votes": list(request.votes.all()),
        "can_decide": request.is_pending and refusal is None,
        "refusal": refusal,
        "allowed": set(request.allowed_decisions),
        "decision_label": Decision(request.decision).label if request.decision else "",
    }
