"""Create the demo workspace (an owner `admin`, a reviewer `reviewer`, the help-centre knowledge base, the
workflows, and Support triage's production runs a reviewer decided) and print the logins.

Passwords are random on first creation and kept in the data directory (mode 600) so that a
second `make run` can print them again; nothing is changed on later runs.
"""

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, Role, Workspace
from builder.agent_demo import SAMPLE_AGENT_TICKET, shop_allowlist_entry, support_agent
from builder.demo import SAMPLE_TICKET, TICKET_ROUTING
from builder.item_templates import add_classify_documents, add_index_documents
from builder.models import Workflow
from builder.starters import SUPPORT_TRIAGE_NAME, add_support_triage
from builder.versions import publish_version
from datasets.demo import add_sample_tickets
from evals.demo import add_eval_demo
from evals.demo_reviews import add_reviewed_runs
from knowledge.demo import seed_help_centre

DEMO_USERS = [("admin", Role.OWNER), ("reviewer", Role.REVIEWER)]


class Command(BaseCommand):
    help = "Create the demo workspace and its users (idempotent) and print how to sign in."

    def handle(self, *args: Any, **options: Any) -> None:
        logins_file = Path(settings.DATA_DIR) / "demo-logins.json"
        known: dict[str, str] = json.loads(logins_file.read_text()) if logins_file.exists() else {}
        created = self.seed(known)
        # After the seed's transaction: these runs go as far as they can when their start commits.
        add_reviewed_runs(
            Workflow.objects.get(workspace__slug="demo", name=SUPPORT_TRIAGE_NAME),
            get_user_model()._default_manager.get(username="reviewer"),
        )
        if created:
            logins_file.write_text(json.dumps(known, indent=2))
            logins_file.chmod(0o600)
        self.stdout.write("Demo workspace ready. Sign in with:")
        for username, role in DEMO_USERS:
            password = known.get(username, "(set before; reset it with: manage.py changepassword " + username + ")")
            self.stdout.write(f"  {username:<9} password: {password}   ({role.label.lower()})")

    @transaction.atomic
    def seed(self, known: dict[str, str]) -> bool:
        users = get_user_model()._default_manager
        workspace, _ = Workspace.objects.get_or_create(slug="demo", defaults={"name": "Demo workspace"})
        created = False
        for username, role in DEMO_USERS:
            user = users.filter(username=username).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = users.create_user(
                    username=username,
                    email=f"{username}@example.com",
                    password=password,
                    is_staff=role == Role.OWNER,
                    is_superuser=role == Role.OWNER,
                )
                known[username] = password
                created = True
            Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})
        seed_help_centre(workspace)
        self.seed_workflow(workspace)
        self.seed_agent(workspace)
        triage = add_support_triage(workspace)
        add_classify_documents(workspace)
        add_index_documents(workspace)
        add_sample_tickets(workspace, triage)
        add_eval_demo(triage)
        return created

    def seed_agent(self, workspace: Workspace) -> None:
        """The "Support agent" template, published, with the demo shop on the workspace's allowlist."""
        entry = shop_allowlist_entry()
        if entry not in workspace.http_allowlist:
            workspace.http_allowlist = [*workspace.http_allowlist, entry]
            workspace.save(update_fields=["http_allowlist"])
        workflow, made = Workflow.objects.get_or_create(
            workspace=workspace,
            name="Support agent",
            defaults={
                "draft": support_agent(),
                "sample_input": SAMPLE_AGENT_TICKET,
                "description": "An agent with help-centre search, an order lookup and refunds a person approves.",
            },
        )
        if made:
            publish_version(workflow, "Demo: the support agent template", by=None)

    def seed_workflow(self, workspace: Workspace) -> None:
        workflow, made = Workflow.objects.get_or_create(
            workspace=workspace,
            name="Ticket routing",
            defaults={
                "draft": TICKET_ROUTING,
                "sample_input": SAMPLE_TICKET,
                "description": "Replies to routine tickets; a person reviews urgent ones and refunds first.",
            },
        )
        if made:
            publish_version(workflow, "Demo: logic and review steps of the support-triage workflow", by=None)
