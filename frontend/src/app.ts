// Every server-rendered page loads this entry: htmx for fragments, the house stylesheet.
import htmx from "htmx.org";
import "./styles/app.css";
import { followRuns, rowsUrl } from "./lib/liveRuns";
import { closeMenusOnOutsideClick } from "./lib/menus";

closeMenusOnOutsideClick(document);

if (document.querySelector("[data-live-runs]")) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  followRuns(`${scheme}//${location.host}/ws/workspace/`, () => {
    void htmx.ajax("GET", rowsUrl(location), { target: "#run-rows", swap: "outerHTML" });
  });
}
