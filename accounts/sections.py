"""A section page of the current workspace, for the parts of the product that start empty."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import Action, require


def section_page(template: str):  # type: ignore[no-untyped-def]
    """A view that renders `template` for members of the current workspace with at least view rights."""

    @login_required
    def view(request: HttpRequest) -> HttpResponse:
        membership = getattr(request, "membership", None)
        if membership is None:
            raise Http404("You are not a member of any workspace")
        require(request.user, membership.workspace_id, Action.VIEW)
        return render(request, template)

    return view
