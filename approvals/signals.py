"""Signals other apps listen to, so that approvals never imports them."""

from django.dispatch import Signal

# Sent once a request's final decision has committed, with `request` (the ApprovalRequest). Evaluations turn
# an edit-and-approve into a proposed eval set row (evals/corrections.py).
decided = Signal()
