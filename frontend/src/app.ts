// Every server-rendered page loads this entry: htmx for fragments, the house stylesheet.
import htmx from "htmx.org";
import "./styles/app.css";
import { followInbox, keyAction, listUrl, neighbour } from "./lib/liveInbox";
import { acceptDrops, documentsUrl, followKnowledgeBase } from "./lib/liveKnowledge";
import { followRuns, rowsUrl } from "./lib/liveRuns";
import { closeMenusOnOutsideClick } from "./lib/menus";

closeMenusOnOutsideClick(document);
const workspaceSocket = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/workspace/`;

if (document.querySelector("[data-live-runs]")) {
  followRuns(workspaceSocket, () => {
    void htmx.ajax("GET", rowsUrl(location), { target: "#run-rows", swap: "outerHTML" });
  });
}

if (document.querySelector("[data-live-inbox]")) {
  followInbox(
    workspaceSocket,
    // The list is also the request's source, so that HX-Target names it and the server sends only the list.
    () => void htmx.ajax("GET", listUrl(location), { source: "#inbox-list", target: "#inbox-list", swap: "outerHTML" }),
    (id) => {
      // The open item moved (decided or claimed elsewhere): show its new state instead of a stale form.
      const card = document.querySelector<HTMLElement>("[data-approval-card]");
      if (card?.dataset.approvalCard === String(id)) {
        void htmx.ajax("GET", `/inbox/${id}/`, { source: card, target: card, swap: "outerHTML" });
      }
    },
  );
  document.addEventListener("keydown", (event) => {
    const target = event.target as HTMLElement;
    const action = keyAction(event.key, target.tagName, event.ctrlKey || event.metaKey || event.altKey);
    if (action === null) return;
    const form = document.querySelector<HTMLFormElement>("#decision-form");
    if (action === "next" || action === "previous") {
      const links = [...document.querySelectorAll<HTMLAnchorElement>("[data-inbox-item]")];
      const ids = links.map((link) => link.closest<HTMLElement>("[data-approval-id]")?.dataset.approvalId ?? "");
      const current = document.querySelector<HTMLElement>("#inbox-list")?.dataset.selected ?? "";
      const next = neighbour(ids, current, action === "next" ? 1 : -1);
      if (next !== null) links[ids.indexOf(next)].click();
    } else if (action === "edit") {
      form?.querySelector<HTMLElement>("[data-editable]")?.focus();
    } else if (action === "approve") {
      form?.querySelector<HTMLButtonElement>('button[data-key="a"]')?.click();
    } else if (action === "reject") {
      const comment = form?.querySelector<HTMLTextAreaElement>("#decision-comment");
      // A rejection needs a reason: write it first, then press r again (or the button).
      if (comment && comment.value.trim()) form?.querySelector<HTMLButtonElement>('button[data-key="r"]')?.click();
      else comment?.focus();
    } else {
      return;
    }
    event.preventDefault();
  });
}

const knowledgeBase = document.querySelector<HTMLElement>("[data-live-knowledge]");
if (knowledgeBase) {
  followKnowledgeBase(workspaceSocket, Number(knowledgeBase.dataset.liveKnowledge), () => {
    void htmx.ajax("GET", documentsUrl(knowledgeBase), { target: "#documents", swap: "outerHTML" });
  });
}

const dropzone = document.querySelector<HTMLFormElement>("form[data-dropzone]");
const dropInput = dropzone?.querySelector<HTMLInputElement>('input[type="file"]');
if (dropzone && dropInput) acceptDrops(dropzone, dropInput);
