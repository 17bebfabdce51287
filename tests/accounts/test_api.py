from django.test import Client

from tests.factories import MembershipFactory


def test_it_lists_my_workspaces_with_my_role(owner, outsider, login_as):
    MembershipFactory(user=owner.user, workspace=outsider.workspace, role="viewer")
    response = login_as(owner).get("/api/v1/workspaces")
    assert response.status_code == 200
    assert [(w["name"], w["role"]) for w in response.json()] == [
        ("Support", "owner"),
        (outsider.workspace.name, "viewer"),
    ]


def test_it_lists_members_of_my_workspace(owner, teammate, login_as):
    response = login_as(teammate).get(f"/api/v1/workspaces/{owner.workspace_id}/members")
    assert response.status_code == 200
    assert [(m["username"], m["role"]) for m in response.json()] == [("olivia", "owner"), ("ted", "editor")]


def test_it_answers_404_in_the_error_shape_for_another_workspace(owner, outsider, login_as):
    response = login_as(outsider).get(f"/api/v1/workspaces/{owner.workspace_id}/members")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such workspace", "details": {}}}


def test_it_asks_anonymous_callers_to_authenticate(db):
    response = Client().get("/api/v1/workspaces")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_names_the_field_of_a_bad_path_parameter(owner, login_as):
    response = login_as(owner).get("/api/v1/workspaces/not-a-number/members")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "workspace_id" in error["message"]
    assert error["details"]["problems"][0]["path"].endswith("workspace_id")


def test_it_publishes_the_openapi_schema(db):
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Switchyard API"
    assert "/api/v1/workspaces" in schema["paths"]
