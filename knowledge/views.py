"""Knowledge pages: the list, one knowledge base (documents live, uploads, settings, delete, try a query), one
document's chunks."""

from dataclasses import asdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, can, get_for, require
from accounts.views import current_membership
from engine import workspace_embeddings
from knowledge import documents, sync
from knowledge.forms import DeleteBaseForm, KnowledgeBaseForm, QueryForm, TextForm, UploadForm, UrlForm
from knowledge.models import Document, KnowledgeBase
from knowledge.search import search

DETAIL = "knowledge/knowledge_base_detail.html"


@login_required
@require_http_methods(["GET", "POST"])
def base_list_view(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    chosen = workspace_embeddings.of_workspace(me.workspace_id)
    # The form preselects the workspace's embedding model once an owner chose one other than the built-in
    # default; otherwise keyword search only, as before. Existing knowledge bases keep their own.
    initial = {"embedding": chosen.choice} if chosen != workspace_embeddings.DEFAULT else None
    form = KnowledgeBaseForm(
        request.POST or None, choices=documents.embedding_options(me.workspace_id), initial=initial
    )
    status = 200
    if request.method == "POST":
        require(request.user, me.workspace_id, Action.EDIT)
        if form.is_valid():
            try:
                base = documents.create_base(me.workspace, documents.BaseSpec(**form.cleaned_data), request.user)
            except documents.DocumentInvalid as invalid:
                form.add_error(invalid.field, str(invalid))
            else:
                return redirect("knowledge:knowledge-base-detail", base.pk)
        status = 422
    bases = KnowledgeBase.objects.filter(workspace_id=me.workspace_id).annotate(document_count=Count("documents"))
    context = {"bases": bases, "form": form, "can_edit": can(request.user, me.workspace_id, Action.EDIT)}
    return render(request, "knowledge/knowledge_base_list.html", context, status=status)


def _settings_form(base: KnowledgeBase, data: Any = None) -> KnowledgeBaseForm:
    choices = documents.embedding_options(base.workspace_id)
    if base.embedding not in dict(choices):
        choices.append((base.embedding, f"{base.embedding} (no longer offered)"))
    return KnowledgeBaseForm(data, initial=asdict(documents.spec_of(base)), choices=choices)


def _detail(request: HttpRequest, base: KnowledgeBase, status: int = 200, **forms: Any) -> HttpResponse:
    now = timezone.now()
    context = {
        "base": base,
        "documents": base.documents.defer("raw"),
        "stale": sync.stale(base, now),
        "can_edit": can(request.user, base.workspace_id, Action.EDIT),
        "upload_form": forms.get("upload_form") or UploadForm(),
        "text_form": forms.get("text_form") or TextForm(),
        "url_form": forms.get("url_form") or UrlForm(),
        "edit_form": forms.get("edit_form") or _settings_form(base),
        "delete_form": forms.get("delete_form") or DeleteBaseForm(base_name=base.name),
        "query_form": QueryForm(initial={"top_k": 5, "min_score": 0}),
    }
    # The live page re-fetches only its documents over htmx (frontend/src/app.ts) while they are ingested.
    template = f"{DETAIL}#documents" if request.htmx else DETAIL  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def base_detail_view(request: HttpRequest, base_id: int) -> HttpResponse:
    return _detail(request, get_for(request.user, KnowledgeBase, Action.VIEW, pk=base_id))


@login_required
@require_POST
def base_edit_view(request: HttpRequest, base_id: int) -> HttpResponse:
    base = get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)
    form = _settings_form(base, request.POST)
    if form.is_valid():
        try:
            changed = documents.update_base(base, documents.BaseSpec(**form.cleaned_data), request.user)
        except documents.DocumentInvalid as invalid:
            form.add_error(invalid.field, str(invalid))
        else:
            if documents.REINGESTING & set(changed):
                messages.success(request, "Settings saved; every document was queued for re-ingestion.")
            elif changed:
                messages.success(request, "Settings saved.")
            return redirect("knowledge:knowledge-base-detail", base.pk)
    return _detail(request, base, 422, edit_form=form)


@login_required
@require_POST
def base_delete_view(request: HttpRequest, base_id: int) -> HttpResponse:
    base = get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)
    form = DeleteBaseForm(request.POST, base_name=base.name)
    if not form.is_valid():
        return _detail(request, base, 422, delete_form=form)
    documents.delete_base(base, request.user)
    messages.success(request, f"“{form.base_name}” and its documents were deleted.")
    return redirect("knowledge:knowledge-base-list")


@login_required
@require_POST
def upload_view(request: HttpRequest, base_id: int) -> HttpResponse:
    base = get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)
    form = UploadForm(request.POST)
    files = request.FILES.getlist("files")
    if not files:
        form.add_error(None, "files: choose or drop at least one file")
    if not form.is_valid():
        return _detail(request, base, 422, upload_form=form)
    added = 0
    for file in files:
        try:
            documents.add_upload(base, documents.read_upload(file, form.cleaned_data["metadata"]), request.user)
            added += 1
        except documents.DocumentInvalid as invalid:
            messages.error(request, str(invalid))  # one refused file does not stop the others
    if added:
        messages.success(request, f"{added} file{'s' if added != 1 else ''} queued for ingestion.")
    return redirect("knowledge:knowledge-base-detail", base.pk)


@login_required
@require_POST
def text_view(request: HttpRequest, base_id: int) -> HttpResponse:
    base = get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)
    form = TextForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        documents.add_text(base, data["title"], data["text"], data["metadata"], request.user)
        messages.success(request, f"“{data['title']}” queued for ingestion.")
        return redirect("knowledge:knowledge-base-detail", base.pk)
    return _detail(request, base, 422, text_form=form)


@login_required
@require_POST
def url_view(request: HttpRequest, base_id: int) -> HttpResponse:
    base = get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)
    form = UrlForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            documents.add_url(base, data["url"], data["title"], data["sync_hours"], data["metadata"], request.user)
        except documents.DocumentInvalid as invalid:
            form.add_error(invalid.field, str(invalid))
        else:
            messages.success(request, f"{data['url']} queued for ingestion.")
            return redirect("knowledge:knowledge-base-detail", base.pk)
    return _detail(request, base, 422, url_form=form)


@login_required
@require_GET
def query_view(request: HttpRequest, base_id: int) -> HttpResponse:
    # EDIT, not VIEW: a query may call a paid embedding provider, and only editors and owners may spend.
    base = get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)
    form = QueryForm(request.GET)
    if not form.is_valid():
        return render(request, f"{DETAIL}#results", {"query_form": form, "base": base}, status=422)
    data = form.cleaned_data
    passages = search(base, data["q"], data["top_k"] or 5, data["filters"], data["min_score"] or 0.0)
    return render(request, f"{DETAIL}#results", {"query_form": form, "base": base, "passages": passages, "asked": True})


@login_required
@require_GET
def document_view(request: HttpRequest, base_id: int, document_id: int) -> HttpResponse:
    document = get_for(
        request.user, Document.objects.defer("raw"), Action.VIEW, pk=document_id, knowledge_base_id=base_id
    )
    context = {
        "document": document,
        "base": document.knowledge_base,
        "chunks": document.chunks.defer("embedding", "terms"),
        "can_edit": can(request.user, document.workspace_id, Action.EDIT),
    }
    return render(request, "knowledge/document_detail.html", context)


@login_required
@require_POST
def document_reingest_view(request: HttpRequest, base_id: int, document_id: int) -> HttpResponse:
    document = get_for(request.user, Document, Action.EDIT, pk=document_id, knowledge_base_id=base_id)
    documents.reingest(document, request.user)
    messages.success(request, f"“{document.title}” queued for ingestion.")
    return redirect("knowledge:knowledge-base-detail", base_id)


@login_required
@require_POST
def document_delete_view(request: HttpRequest, base_id: int, document_id: int) -> HttpResponse:
    document = get_for(request.user, Document, Action.EDIT, pk=document_id, knowledge_base_id=base_id)
    documents.remove(document, request.user)
    messages.success(request, f"“{document.title}” and its chunks were deleted.")
    return redirect("knowledge:knowledge-base-detail", base_id)
