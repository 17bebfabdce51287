"""The demo shop the "Support agent" template calls: fixed orders to look up, and refunds that store nothing.

Public and stateless on purpose: it holds made-up orders only, so the template's HTTP tools have
something to reach on a fresh machine (the demo workspace allowlists this server's address).
"""

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

ORDERS = {
    "1001": {"order_id": "1001", "item": "Quillpad Pro lamp", "status": "delivered", "total": 49.0},
    "1002": {"order_id": "1002", "item": "Quillpad Pro subscription", "status": "active", "total": 12.0},
    "1003": {"order_id": "1003", "item": "Quillpad stand", "status": "shipped", "total": 25.0},
}


@require_GET
def order(request: HttpRequest, order_id: str) -> JsonResponse:
    found = ORDERS.get(order_id)
    if found is None:
        return JsonResponse({"error": f"there is no order {order_id[:40]!r}"}, status=404)
    return JsonResponse(found)


@csrf_exempt  # called by workflows' HTTP tools, never by a browser session; it changes nothing
@require_POST
def refund(request: HttpRequest) -> JsonResponse:
    try:
        asked = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "send a JSON body"}, status=400)
    order_id = str(asked.get("order_id", "")) if isinstance(asked, dict) else ""
    if order_id not in ORDERS:
        return JsonResponse({"error": f"there is no order {order_id[:40]!r}"}, status=404)
    return JsonResponse({"order_id": order_id, "refund": asked.get("amount"), "status": "accepted (demo: not stored)"})
