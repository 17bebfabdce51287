"""The demo workspace's workflow: the logic and review steps of the support-triage reference workflow."""

from typing import Any

TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["subject", "body"],
    "properties": {
        "subject": {"type": "string", "maxLength": 500},
        "body": {"type": "string", "maxLength": 20000},
        "customer": {"type": "string"},
        "priority": {"type": "string", "enum": ["low", "normal", "urgent"]},
    },
}

TICKET_ROUTING: dict[str, Any] = {
    "schema_version": 1,
    "nodes": [
        {
            "id": "ticket",
            "type": "trigger",
            "label": "Ticket",
            "position": {"x": 0, "y": 120},
            "params": {"input_schema": TICKET_SCHEMA},
        },
        {
            "id": "route",
            "type": "condition",
            "label": "Urgent or refund?",
            "position": {"x": 260, "y": 120},
            "params": {"expression": "input.priority == 'urgent' or 'refund' in (input.body | lower)"},
        },
        {
            "id": "draft",
            "type": "transform",
            "label": "Draft reply",
            "position": {"x": 520, "y": 40},
            "params": {
                "fields": {
                    "text": "Hi {{ input.customer | default('there') }}, thanks for writing about "
                    "\u201c{{ input.subject }}\u201d. We are on it and will get back to you shortly."
                }
            },
        },
        {
            "id": "reply",
            "type": "reply",
            "label": "Reply",
            "position": {"x": 780, "y": 40},
            "params": {"answer": "{{ nodes.draft.text }}"},
        },
        {
            "id": "review",
            "type": "approval",
            "label": "Review",
            "position": {"x": 520, "y": 220},
            "params": {
                "title": "{{ input.subject }}",
                "instructions": "Urgent or about a refund: check the reply before it goes out.",
                "context": [
                    {"label": "Ticket", "value": "{{ input.body }}", "kind": "text"},
                    {"label": "Customer", "value": "{{ input.customer | default('unknown') }}", "kind": "text"},
                ],
                "fields": [
                    {
                        "name": "reply",
                        "label": "Reply",
                        "type": "textarea",
                        "value": "Hi {{ input.customer | default('there') }}, we are looking into "
                        "\u201c{{ input.subject }}\u201d and will come back to you today.",
                        "required": True,
                    }
                ],
            },
        },
        {
            "id": "send",
            "type": "reply",
            "label": "Send reviewed reply",
            "position": {"x": 780, "y": 180},
            "params": {"answer": "{{ nodes.review.values.reply }}"},
        },
        {
            "id": "escalate",
            "type": "escalate",
            "label": "Escalate",
            "position": {"x": 780, "y": 300},
            "params": {"reason": "Needs a person: {{ input.subject }}"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "ticket", "source_handle": "out", "target": "route", "target_handle": "in"},
        {"id": "e2", "source": "route", "source_handle": "false", "target": "draft", "target_handle": "in"},
        {"id": "e3", "source": "draft", "source_handle": "out", "target": "reply", "target_handle": "in"},
        {"id": "e4", "source": "route", "source_handle": "true", "target": "review", "target_handle": "in"},
        {"id": "e5", "source": "review", "source_handle": "approved", "target": "send", "target_handle": "in"},
        {"id": "e6", "source": "review", "source_handle": "rejected", "target": "escalate", "target_handle": "in"},
        {"id": "e7", "source": "review", "source_handle": "escalated", "target": "escalate", "target_handle": "in"},
    ],
}
