import { describe, expect, it } from "vitest";
import { approvalOf, isInboxPrompt, keyAction, listUrl, neighbour } from "./liveInbox";

describe("listUrl", () => {
  it("keeps scope and sort", () => {
    expect(listUrl({ pathname: "/inbox/", search: "?scope=me&sort=deadline" })).toBe("/inbox/?scope=me&sort=deadline");
    expect(listUrl({ pathname: "/inbox/7/", search: "" })).toBe("/inbox/7/");
  });
});

describe("isInboxPrompt", () => {
  it("recognises approval prompts and ended runs", () => {
    expect(isInboxPrompt({ type: "approval.created", approval: 1 })).toBe(true);
    expect(isInboxPrompt({ type: "approval.decided", approval: 1 })).toBe(true);
    expect(isInboxPrompt({ type: "run.updated", run: 1, status: "cancelled" })).toBe(true);
    expect(isInboxPrompt({ type: "run.updated", run: 1, status: "running" })).toBe(false);
    expect(isInboxPrompt({ type: "subscribed" })).toBe(false);
    expect(isInboxPrompt(null)).toBe(false);
  });
});

describe("approvalOf", () => {
  it("reads the approval id when there is one", () => {
    expect(approvalOf({ type: "approval.decided", approval: 4 })).toBe(4);
    expect(approvalOf({ type: "run.updated", run: 4 })).toBeNull();
  });
});

describe("keyAction", () => {
  it("maps j/k/a/e/r outside fields only", () => {
    expect(keyAction("j", "BODY", false)).toBe("next");
    expect(keyAction("k", "A", false)).toBe("previous");
    expect(keyAction("a", "BODY", false)).toBe("approve");
    expect(keyAction("e", "BODY", false)).toBe("edit");
    expect(keyAction("r", "BODY", false)).toBe("reject");
    expect(keyAction("a", "TEXTAREA", false)).toBeNull();
    expect(keyAction("j", "input", false)).toBeNull();
    expect(keyAction("a", "BODY", true)).toBeNull();
    expect(keyAction("x", "BODY", false)).toBeNull();
  });
});

describe("neighbour", () => {
  it("moves within the list and stops at its ends", () => {
    expect(neighbour(["1", "2", "3"], "2", 1)).toBe("3");
    expect(neighbour(["1", "2", "3"], "2", -1)).toBe("1");
    expect(neighbour(["1", "2", "3"], "3", 1)).toBeNull();
    expect(neighbour(["1", "2", "3"], "", 1)).toBe("1");
    expect(neighbour(["1", "2", "3"], "", -1)).toBe("3");
    expect(neighbour([], "", 1)).toBeNull();
  });
});
