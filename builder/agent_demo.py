"""The "Support agent" template: an agent answering a ticket with the help centre, the demo shop, and a refund tool
that a person approves first. Runs offline on the built-in provider's tool-use mode (docs/agents.md)."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from builder.demo import TICKET_SCHEMA
from knowledge.demo import HELP_CENTRE

SAMPLE_AGENT_TICKET: dict[str, Any] = {
    "subject": "Broken lamp",
    "body": "Order: 1001\nRefund amount: 20\nMy lamp arrived with a cracked shade. Can I get a partial refund?",
    "customer": "Ann Lee",
}
ORDER_ID = {"type": "string", "description": "the order number, e.g. 1001"}


def shop_allowlist_entry() -> str:
    """The demo shop's host:port, for the allowlist of a workspace that runs the template."""
    parts = urlsplit(settings.DEMO_SHOP_URL)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def support_agent() -> dict[str, Any]:
    shop = settings.DEMO_SHOP_URL.rstrip("/")
    tools = [
        {
            "name": "search_help_centre",
            "description": "Searches the help centre articles; cite the passages you use.",
            "kind": "knowledge",
            "knowledge_base": HELP_CENTRE,
            "top_k": 3,
        },
        {
            "name": "lookup_order",
            "description": "Looks an order up in the shop: item, status and total.",
            "kind": "http",
            "url": shop + "/orders/{{ args.order_id }}",
            "parameters": {"type": "object", "properties": {"order_id": ORDER_ID}, "required": ["order_id"]},
        },
        {
            "name": "refund_order",
            "description": "Refunds part of an order. A person approves every refund first.",
            "kind": "http",
            "method": "POST",
            "url": shop + "/refunds",
            "body": {"order_id": "{{ args.order_id }}", "amount": "{{ args.refund_amount }}"},
            "parameters": {
                "type": "object",
                "properties": {"order_id": ORDER_ID, "refund_amount": {"type": "number", "exclusiveMinimum": 0}},
                "required": ["order_id", "refund_amount"],
            },
            "requires_approval": True,
        },
    ]
    return {
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
                "id": "agent",
                "type": "agent",
                "label": "Support agent",
                "position": {"x": 280, "y": 120},
                "params": {
                    "instructions": "You are a friendly support agent. Search the help centre and cite what you "
                    "use; look orders up before answering about them; refund only when the ticket asks for it.",
                    "message": "Customer: {{ input.customer | default('there') }}\nSubject: {{ input.subject }}\n"
                    "{{ input.body }}",
                    "tools": tools,
                    "max_turns": 6,
                    "max_tool_calls": 8,
                    "max_tokens": 600,
                },
            },
            {
                "id": "reply",
                "type": "reply",
                "label": "Reply",
                "position": {"x": 560, "y": 120},
                "params": {"answer": "{{ nodes.agent.text }}"},
            },
        ],
        "edges": [
            {"id": "a1", "source": "ticket", "source_handle": "out", "target": "agent", "target_handle": "in"},
            {"id": "a2", "source": "agent", "source_handle": "out", "target": "reply", "target_handle": "in"},
        ],
    }
