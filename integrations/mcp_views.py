"""The owners' page for MCP servers: add, change, remove and test them; headers are write-only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import record
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership
from engine import mcp_client, mcp_servers
from engine.models import McpServer
from integrations.forms import McpServerForm


def _page(
    request: HttpRequest,
    form: McpServerForm,
    editing: McpServer | None,
    status: int,
    tested: tuple[McpServer, mcp_client.Listing] | None = None,
) -> HttpResponse:
    me = current_membership(request)
    context = {
        "servers": McpServer.objects.filter(workspace_id=me.workspace_id),
        "form": form,
        "editing": editing,
        "tested": tested[0] if tested else None,
        "listing": tested[1] if tested else None,
    }
    template = "integrations/mcp_settings.html"
    if request.htmx and tested:  # type: ignore[attr-defined]
        template += "#test-result"
    return render(request, template, context, status=status)


def _initial(server: McpServer) -> dict[str, object]:
    return {"name": server.name, "url": server.url, "timeout_s": server.timeout_s}


@login_required
@require_http_methods(["GET", "POST"])
def mcp_settings(request: HttpRequest, server_id: int | None = None) -> HttpResponse:
    """The list, and a form that adds a server (or, with an id, changes that one)."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    editing = get_for(request.user, McpServer, Action.MANAGE, pk=server_id) if server_id else None
    if request.method != "POST":
        return _page(request, McpServerForm(initial=_initial(editing) if editing else None), editing, 200)
    form = McpServerForm(request.POST)
    if not form.is_valid():
        return _page(request, form, editing, 422)
    try:
        saved = mcp_servers.save(me.workspace_id, form.values(), form.new_headers(), editing)
    except mcp_servers.ServerInvalid as error:
        form.add_error(error.field, error.message)
        return _page(request, form, editing, 422)
    action = "mcp_server.changed" if editing else "mcp_server.created"
    record(request.user, action, workspace=me.workspace, target=saved, name=saved.name, headers=saved.header_names)
    messages.success(request, f"Saved the MCP server {saved.name}.")
    return redirect("integrations:mcp-settings")


@login_required
@require_POST
def mcp_test(request: HttpRequest, server_id: int) -> HttpResponse:
    """Connect and list the server's tools: the page (or, for htmx, the result alone) says what it found."""
    server = get_for(request.user, McpServer, Action.MANAGE, pk=server_id)
    return _page(request, McpServerForm(), None, 200, tested=(server, mcp_client.list_tools(server)))


@login_required
@require_POST
def mcp_delete(request: HttpRequest, server_id: int) -> HttpResponse:
    server = get_for(request.user, McpServer, Action.MANAGE, pk=server_id)
    record(request.user, "mcp_server.deleted", workspace=server.workspace, target=server, name=server.name)
    server.delete()
    messages.success(request, f"Removed the MCP server {server.name} and its headers.")
    return redirect("integrations:mcp-settings")
