"""The owners' page for model providers: add, change and remove configurations (keys are write-only), and choose
the workspace's embedding model."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import record
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership
from engine import provider_configs, workspace_embeddings
from engine.models import ProviderConfig
from engine.providers import BUILTIN_CHAT_MODEL, BUILTIN_LABEL, embedding_choices
from integrations.forms import EmbeddingModelForm, ProviderConfigForm


def _page(
    request: HttpRequest,
    form: ProviderConfigForm,
    editing: ProviderConfig | None,
    status: int,
    embedding_form: EmbeddingModelForm | None = None,
) -> HttpResponse:
    me = current_membership(request)
    current = workspace_embeddings.of_workspace(me.workspace_id)
    choices = embedding_choices(me.workspace_id)
    context = {
        "configs": ProviderConfig.objects.filter(workspace_id=me.workspace_id),
        "form": form,
        "editing": editing,
        "builtin_label": BUILTIN_LABEL,
        "builtin_model": BUILTIN_CHAT_MODEL,
        "embedding_form": embedding_form
        or EmbeddingModelForm(initial={"embedding_model": current.choice}, choices=choices),
        "embedding_model": current,
        # A provider removed (or its model dropped) since the choice: similarity scorers' calls then fail.
        "embedding_model_gone": current.choice not in dict(choices),
    }
    return render(request, "integrations/provider_settings.html", context, status=status)


def _initial(config: ProviderConfig) -> dict[str, object]:
    return {
        "name": config.name,
        "kind": config.kind,
        "base_url": config.base_url,
        "chat_models": "\n".join(config.chat_models),
        "embedding_models": "\n".join(config.embedding_models),
        "headers": "\n".join(f"{name}: {value}" for name, value in config.headers.items()),
        "timeout_s": config.timeout_s,
    }


@login_required
@require_http_methods(["GET", "POST"])
def provider_settings(request: HttpRequest, config_id: int | None = None) -> HttpResponse:
    """The list, and a form that adds a provider (or, with an id, changes that one)."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    editing = get_for(request.user, ProviderConfig, Action.MANAGE, pk=config_id) if config_id else None
    if request.method != "POST":
        form = ProviderConfigForm(initial=_initial(editing) if editing else None)
        return _page(request, form, editing, 200)
    form = ProviderConfigForm(request.POST)
    if not form.is_valid():
        return _page(request, form, editing, 422)
    try:
        saved = provider_configs.save(me.workspace_id, form.values(), form.new_api_key(), editing)
    except provider_configs.ConfigInvalid as error:
        form.add_error(error.field, error.message)
        return _page(request, form, editing, 422)
    action = "provider.changed" if editing else "provider.created"
    record(request.user, action, workspace=me.workspace, target=saved, name=saved.name)
    messages.success(request, f"Saved the provider {saved.name}.")
    return redirect("integrations:provider-settings")


@login_required
@require_POST
def provider_delete(request: HttpRequest, config_id: int) -> HttpResponse:
    config = get_for(request.user, ProviderConfig, Action.MANAGE, pk=config_id)
    record(request.user, "provider.deleted", workspace=config.workspace, target=config, name=config.name)
    config.delete()
    messages.success(request, f"Removed the provider {config.name} and its key.")
    return redirect("integrations:provider-settings")


@login_required
@require_POST
def embedding_model(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    form = EmbeddingModelForm(request.POST, choices=embedding_choices(me.workspace_id))
    if not form.is_valid():
        return _page(request, ProviderConfigForm(), None, 422, form)
    before = workspace_embeddings.of_workspace(me.workspace_id)
    try:
        chosen = workspace_embeddings.choose(me.workspace, *form.pair())
    except workspace_embeddings.EmbeddingModelInvalid as error:
        form.add_error("embedding_model", error.message)
        return _page(request, ProviderConfigForm(), None, 422, form)
    record(
        request.user,
        "workspace.embedding_model_changed",
        workspace=me.workspace,
        target=me.workspace,
        old=before.choice,
        new=chosen.choice,
    )
    messages.success(request, f"Semantic similarity now uses {chosen.provider} · {chosen.model} by default.")
    return redirect("integrations:provider-settings")
