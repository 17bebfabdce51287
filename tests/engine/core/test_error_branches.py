"""Error branches, in-process: a node set to continue on failure leaves by its error handle after its last attempt."""

from engine import runs
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import history, start, statuses, wait_for
from tests.engine.running import node as node_run
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.fakes import Reply

QUICK_RETRY = {"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0}


def branching(call: dict, *, error_handler: dict | None = None) -> dict:
    """trigger → call; call's 'out' → ok; call's 'error' → handled (a transform reading the error)."""
    handled = error_handler or node(
        "handled", "transform", fields={"why": "{{ nodes.call.code }}: {{ nodes.call.message }}"}
    )
    return graph(
        TRIGGER,
        call,
        node("ok", "transform", fields={"status": "{{ nodes.call.status }}"}),
        handled,
        edges=[edge("start", "call"), edge("call", "ok"), edge("call", handled["id"], "error")],
    )


def test_it_takes_the_error_path_once_the_retries_are_spent(workspace, server):
    server.default = Reply(status=500)
    call = node("call", "http_request", url=server.url + "/down", retry=QUICK_RETRY, on_failure="continue")
    run = wait_for(start(workspace, branching(call)))
    assert run.status == "succeeded"
    assert run.error == ""
    assert history(run, "call") == ["pending", "running", "failed", "running", "failed", "succeeded"]
    failed = node_run(run, "call")
    assert (failed.status, failed.handle) == ("succeeded", "error")
    assert failed.output == {"code": "http_500", "message": failed.error["message"], "attempt": 2}
    assert failed.error["continued"] is True
    assert statuses(run) == {"start": "succeeded", "call": "succeeded", "ok": "skipped", "handled": "succeeded"}
    assert node_run(run, "handled").output["why"].startswith("http_500: ")
    assert len(server.requests("/down")) == 2


def test_a_non_retryable_error_takes_the_error_path_at_once(workspace, server):
    server.default = Reply(status=404)
    retry = {"max_attempts": 5, "initial_delay_s": 0.1}
    call = node("call", "http_request", url=server.url + "/gone", retry=retry, on_failure="continue")
    run = wait_for(start(workspace, branching(call)))
    assert run.status == "succeeded"
    assert node_run(run, "call").output["attempt"] == 1
    assert statuses(run)["handled"] == "succeeded"
    assert len(server.requests("/gone")) == 1


def test_a_node_that_succeeds_does_not_take_its_error_handle(workspace, server):
    call = node("call", "http_request", url=server.url + "/up", on_failure="continue")
    run = wait_for(start(workspace, branching(call)))
    assert run.status == "succeeded"
    assert statuses(run) == {"start": "succeeded", "call": "succeeded", "ok": "succeeded", "handled": "skipped"}
    assert node_run(run, "ok").output == {"status": 200}
    assert history(run, "handled") == ["skipped"]


def test_by_default_a_failure_still_fails_the_run(workspace, server):
    server.default = Reply(status=500)
    data = chain(TRIGGER, node("call", "http_request", url=server.url + "/down"), node("after", "transform"))
    run = wait_for(start(workspace, data))
    assert run.status == "failed"
    assert history(run, "call") == ["pending", "running", "failed"]
    assert statuses(run)["after"] == "cancelled"
    assert "continued" not in node_run(run, "call").error


def test_a_failure_on_the_error_path_fails_the_run(workspace, server):
    server.default = Reply(status=500)
    call = node("call", "http_request", url=server.url + "/down", on_failure="continue")
    notify = node("handled", "http_request", method="POST", url=server.url + "/notify", body={"x": 1})
    run = wait_for(start(workspace, branching(call, error_handler=notify)))
    assert run.status == "failed"
    assert statuses(run)["call"] == "succeeded"
    assert statuses(run)["handled"] == "failed"
    assert run.error.startswith("handled: ")


def test_retry_from_failed_runs_a_continued_node_again_and_decides_its_paths_anew(workspace, server):
    server.default = Reply(status=500)
    call = node("call", "http_request", url=server.url + "/flaky", on_failure="continue")
    notify = node("handled", "http_request", method="POST", url=server.url + "/notify", body={"x": 1})
    run = wait_for(start(workspace, branching(call, error_handler=notify)))
    assert run.status == "failed"
    server.default = Reply(status=200)
    assert runs.retry_from_failed(run)
    run = wait_for(run)
    assert run.status == "succeeded"
    assert statuses(run) == {"start": "succeeded", "call": "succeeded", "ok": "succeeded", "handled": "skipped"}
    again = node_run(run, "call")
    assert (again.handle, again.error) == ("", None)
    assert node_run(run, "ok").output == {"status": 200}
    assert node_run(run, "handled").output is None
    assert len(server.requests("/flaky")) == 2
    assert len(server.requests("/notify")) == 1


def stopping_for_each(workspace, name: str, child_graph: dict) -> dict:
    """A for_each node "call" over `input.items`, one at a time, calling `child_graph` published as `name`; it
    stops at the first failed item and continues through its error handle."""
    child = WorkflowFactory(workspace=workspace, name=name, draft=child_graph)
    WorkflowVersionFactory(workflow=child, graph=child_graph, number=1)
    return node(
        "call",
        "for_each",
        workflow_id=child.pk,
        items="input.items",
        on_item_failure="stop",
        max_concurrency=1,
        on_failure="continue",
    )


def test_a_for_each_that_stops_on_a_failed_item_can_continue_through_its_error_handle(workspace):
    divide = chain(TRIGGER, node("div", "transform", fields={"q": "{{ 12 / input.d }}"}))
    each = stopping_for_each(workspace, "Divide", divide)
    run = wait_for(start(workspace, branching(each), {"items": [{"d": 1}, {"d": 0}, {"d": 3}]}))
    assert run.status == "succeeded"
    output = node_run(run, "call").output
    assert output["code"] == "item_failed"
    assert "division by zero" in output["message"]
    assert statuses(run)["ok"] == "skipped"
    assert node_run(run, "handled").output["why"].startswith("item_failed: item 1")


def test_retry_from_failed_runs_a_continued_for_each_again_in_a_new_round(workspace, server):
    server.default = Reply(status=500)
    fetch = chain(TRIGGER, node("fetch", "http_request", url=server.url + "/item/{{ input.n }}"))
    each = stopping_for_each(workspace, "Fetch", fetch)
    notify = node("handled", "http_request", method="POST", url=server.url + "/notify", body={"x": 1})
    run = wait_for(start(workspace, branching(each, error_handler=notify), {"items": [{"n": 1}, {"n": 2}]}))
    assert run.status == "failed"
    assert statuses(run)["call"] == "succeeded"
    server.default = Reply(status=200)
    assert runs.retry_from_failed(run)
    run = wait_for(run)
    assert run.status == "succeeded"
    assert statuses(run) == {"start": "succeeded", "call": "succeeded", "ok": "succeeded", "handled": "skipped"}
    assert node_run(run, "call").output["counts"]["succeeded"] == 2
    assert len(server.requests("/notify")) == 1
