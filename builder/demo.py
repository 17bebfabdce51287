"""Shipped workflows: the support-triage template (AI steps, built-in provider) and the demo ticket routing."""

from typing import Any

from knowledge.demo import HELP_CENTRE

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

# What the designer's test run starts with in the demo workflows and their templates.
SAMPLE_TICKET: dict[str, Any] = {
    "subject": "Charged twice",
    "body": "Hi, I was charged twice for my Quillpad Pro subscription this month. Can you refund one?",
    "customer": "Ann Lee",
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


CATEGORIES: list[dict[str, Any]] = [
    {
        "name": "billing",
        "description": "Charges, invoices, payments, credit cards, subscriptions, plans, pricing, receipts, VAT, "
        "being charged twice or the wrong amount.",
        "examples": [
            "I was charged twice for my subscription this month",
            "Can you send me an invoice with our VAT number?",
            "My credit card payment was declined",
            "Why did the price of my plan go up?",
            "I need a receipt for my last payment",
            "How do I change the card you bill?",
        ],
    },
    {
        "name": "shipping",
        "description": "Delivery of orders and parcels: tracking, couriers, delays, lost or late packages, "
        "delivery address, shipping costs.",
        "examples": [
            "Where is my order? It has not arrived yet",
            "The tracking number does not work",
            "My parcel was delivered to the wrong address",
            "The courier says the package is lost",
            "Can I change the delivery address of my order?",
            "How long does shipping to Canada take?",
        ],
    },
    {
        "name": "refund",
        "description": "Returns, refunds and money back: returning an item, damaged or broken products, "
        "cancelling an order for a refund.",
        "examples": [
            "I want a refund for this order",
            "The item arrived broken, I want my money back",
            "How do I return a product?",
            "Please cancel my order and refund me",
            "The refund still has not reached my account",
            "The blender I received is damaged, can I send it back?",
        ],
    },
    {
        "name": "account",
        "description": "Signing in and the user account: login, password reset, two-factor codes, email "
        "address changes, locked or deleted accounts, user profile.",
        "examples": [
            "I cannot log in to my account",
            "The password reset email never arrives",
            "My account is locked after too many attempts",
            "How do I change the email address on my profile?",
            "I lost my phone and cannot get the two-factor code",
            "Please delete my account and my data",
        ],
    },
    {
        "name": "technical",
        "description": "The product or app does not work: errors, bugs, crashes, outages, slow pages, "
        "integrations, the API, exports and sync failing.",
        "examples": [
            "The app crashes when I open the settings page",
            "I get error 500 when I upload a file",
            "Your API returns a timeout since this morning",
            "The export to CSV is empty",
            "The dashboard is very slow to load",
            "Sync with our calendar stopped working",
        ],
    },
]

# The first label wins when a ticket shares no word with any of them: an unremarkable ticket is "normal".
URGENCIES: list[dict[str, Any]] = [
    {
        "name": "normal",
        "description": "A usual request about one order, payment, account or problem, handled in the usual time.",
        "examples": [
            "My order has not arrived yet",
            "I was charged the wrong amount",
            "I cannot reset my password",
            "The export does not work for me",
            "I want a refund for the broken item",
        ],
    },
    {
        "name": "urgent",
        "description": "Urgent: production is down, an outage for everyone, a security breach or hacked account, "
        "a legal threat or lawyer, the whole team blocked, needs help right now, immediately, ASAP, today.",
        "examples": [
            "Our whole team is blocked, this is urgent",
            "The service is down for all our customers",
            "Someone hacked my account and changed the password",
            "Please fix this immediately, we are losing sales",
            "I will contact my lawyer if this is not resolved today",
        ],
    },
    {
        "name": "low",
        "description": "Low priority: a general question, how does it work, feedback, a suggestion or feature "
        "request, whenever you have time, no rush, just curious.",
        "examples": [
            "Just a quick question, no rush",
            "Do you plan to add a dark mode?",
            "Some feedback: I love the new design",
            "Whenever you have time, could you explain how plans work?",
            "Do you offer this in another country?",
        ],
    },
]

TICKET_TEXT = "Subject: {{ input.subject }}\n\n{{ input.body }}"

# `retrieve` searches the workspace's "Help centre" knowledge base (knowledge/demo.py seeds it
# with the template); the draft cites its passages and the check weighs its top score. Positions
# are the designer's auto-layout (two bands), so the graph opens readable in a 1400x900 window.
SUPPORT_TRIAGE: dict[str, Any] = {
    "schema_version": 1,
    "nodes": [
        {
            "id": "ticket",
            "type": "trigger",
            "label": "Ticket",
            "position": {"x": 0, "y": 0},
            "params": {"input_schema": TICKET_SCHEMA},
        },
        {
            "id": "category",
            "type": "classify",
            "label": "Category",
            "position": {"x": 310, "y": 0},
            "params": {"text": TICKET_TEXT, "labels": CATEGORIES},
        },
        {
            "id": "urgency",
            "type": "classify",
            "label": "Urgency",
            "position": {"x": 620, "y": 0},
            "params": {"text": TICKET_TEXT, "labels": URGENCIES},
        },
        {
            "id": "retrieve",
            "type": "retrieve",
            "label": "Search help centre",
            "position": {"x": 930, "y": 0},
            "params": {"query": TICKET_TEXT, "knowledge_base": HELP_CENTRE, "top_k": 4},
        },
        {
            "id": "draft",
            "type": "generate",
            "label": "Draft reply",
            "position": {"x": 0, "y": 338},
            "params": {
                "system": "You are a friendly support agent. Write a short reply to the customer. Answer only "
                "from the sources and cite them as [n]; if they do not cover the question, say that a "
                "person will follow up.",
                "prompt": "Customer: {{ input.customer | default('there') }}\nSubject: {{ input.subject }}\n"
                "Category: {{ nodes.category.label }}\n\n{{ input.body }}",
                "passages": "{{ nodes.retrieve.passages }}",
                "max_tokens": 400,
            },
        },
        {
            "id": "check",
            "type": "confidence_check",
            "label": "Confident?",
            "position": {"x": 310, "y": 329},
            "params": {
                "classifier_confidence": "{{ nodes.category.confidence }}",
                "retrieval_score": "{{ nodes.retrieve.top_score }}",
                # Long tickets score 0.1-0.5 for their best passage (docs/knowledge.md):
                # evidence, weighed at half the classifier's confidence.
                "retrieval_weight": 0.5,
                "threshold": 0.5,
                "rules": [
                    {
                        "name": "category",
                        "value": "{{ nodes.category.label }}",
                        "op": "not_in",
                        "values": ["refund"],
                    },
                    {"name": "urgency", "value": "{{ nodes.urgency.label }}", "op": "not_in", "values": ["urgent"]},
                ],
            },
        },
        {
            "id": "reply",
            "type": "reply",
            "label": "Reply",
            "position": {"x": 620, "y": 403},
            "params": {"answer": "{{ nodes.draft.text }}"},
        },
        {
            "id": "review",
            "type": "approval",
            "label": "Review draft",
            "position": {"x": 620, "y": 255},
            "params": {
                "title": "{{ input.subject }}",
                "instructions": "The confidence check failed: {{ nodes.check.reasons | join('; ') }}. "
                "Check the draft before it goes out.",
                "context": [
                    {"label": "Ticket", "value": "{{ input.body }}", "kind": "text"},
                    {"label": "Category", "value": "{{ nodes.category }}", "kind": "classification"},
                    {"label": "Urgency", "value": "{{ nodes.urgency }}", "kind": "classification"},
                    {"label": "Sources", "value": "{{ nodes.retrieve.passages }}", "kind": "sources"},
                    {"label": "Confidence", "value": "{{ nodes.check }}", "kind": "json"},
                ],
                "fields": [
                    {
                        "name": "reply",
                        "label": "Reply",
                        "type": "textarea",
                        "value": "{{ nodes.draft.text }}",
                        "required": True,
                    }
                ],
            },
        },
        {
            "id": "send",
            "type": "reply",
            "label": "Send reviewed reply",
            "position": {"x": 930, "y": 329},
            "params": {"answer": "{{ nodes.review.values.reply }}"},
        },
        {
            "id": "escalate",
            "type": "escalate",
            "label": "Escalate",
            "position": {"x": 930, "y": 217},
            "params": {"reason": "Needs a person ({{ nodes.category.label }}, {{ nodes.urgency.label }})"},
        },
    ],
    "edges": [
        {"id": "t1", "source": "ticket", "source_handle": "out", "target": "category", "target_handle": "in"},
        {"id": "t2", "source": "category", "source_handle": "out", "target": "urgency", "target_handle": "in"},
        {"id": "t3", "source": "urgency", "source_handle": "out", "target": "retrieve", "target_handle": "in"},
        {"id": "t10", "source": "retrieve", "source_handle": "out", "target": "draft", "target_handle": "in"},
        {"id": "t4", "source": "draft", "source_handle": "out", "target": "check", "target_handle": "in"},
        {"id": "t5", "source": "check", "source_handle": "pass", "target": "reply", "target_handle": "in"},
        {"id": "t6", "source": "check", "source_handle": "fail", "target": "review", "target_handle": "in"},
        {"id": "t7", "source": "review", "source_handle": "approved", "target": "send", "target_handle": "in"},
        {"id": "t8", "source": "review", "source_handle": "rejected", "target": "escalate", "target_handle": "in"},
        {"id": "t9", "source": "review", "source_handle": "escalated", "target": "escalate", "target_handle": "in"},
    ],
}
