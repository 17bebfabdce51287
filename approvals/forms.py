"""Reading a decision from the inbox's form: the button pressed, the comment, the edited fields."""

from typing import Any

from django import forms
from django.http import QueryDict

from approvals.decisions import Choice
from approvals.models import ApprovalRequest, Decision
from approvals.requests import final_values

FIELD_PREFIX = "value__"


class NotificationForm(forms.Form):
    email_on_approval = forms.BooleanField(required=False)


def edited_values(request: ApprovalRequest, data: QueryDict) -> dict[str, Any]:
    """The editable fields the form sent that differ from the draft."""
    drafts = final_values(request)
    edits: dict[str, Any] = {}
    for spec in request.fields:
        name, key = spec["name"], FIELD_PREFIX + spec["name"]
        if spec.get("type") == "boolean":
            sent: Any = key in data
        elif key in data:
            # Browsers send textareas with CRLF; compare and store with the draft's LF.
            sent = str(data.get(key, "")).replace("\r\n", "\n")
        else:
            continue
        draft = drafts.get(name)
        if spec.get("type") == "number":
            try:
                same = draft is not None and float(sent) == float(draft)
            except (TypeError, ValueError):
                same = False
        else:
            same = sent == (draft if spec.get("type") == "boolean" else ("" if draft is None else str(draft)))
        if not same:
            edits[name] = sent
    return edits


def choice_from(request: ApprovalRequest, data: QueryDict) -> Choice:
    """An approve with edited fields is an edit-and-approve: the reviewer edited, then approved."""
    decision = data.get("decision", "")
    edits = edited_values(request, data)
    if decision == Decision.APPROVE and edits:
        decision = Decision.EDIT
    values = edits if decision == Decision.EDIT else {}
    return Choice(decision=decision, values=values, comment=data.get("comment", ""))
