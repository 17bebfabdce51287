// The designer's test runs: the sample input, starting a run (whole draft or from a node) after
// saving, and following the run shown on the canvas (the workflow's last test run at first).
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { DraftSaver } from "../../lib/draftSaver";
import type { RunViewState } from "../../lib/runEvents";
import { messageOf, type RunController } from "../run-view/controller";
import { follow, lastTestRun, runFromNode, startTestRun, type TestRunApi } from "./testRuns";

const noSubscription = () => () => undefined;
const noView = () => null;

export function useTestRuns(api: TestRunApi, saver: DraftSaver, nodeIds: string[], initialSample: unknown) {
  const [controller, setController] = useState<RunController | null>(null);
  const [runId, setRunId] = useState<number | null>(null);
  const [error, setError] = useState("");
  const [sample, setSample] = useState(() => JSON.stringify(initialSample ?? {}, null, 2));
  const [pin, setPin] = useState(true);
  const [testing, setTesting] = useState(false);
  const nodeIdsRef = useRef(nodeIds);
  nodeIdsRef.current = nodeIds;

  const watch = useCallback(
    (run: { id: number }) => {
      setRunId(run.id);
      setController((old) => {
        old?.stop();
        return follow(api, run, nodeIdsRef.current);
      });
    },
    [api],
  );
  useEffect(() => {
    let live = true;
    lastTestRun(api)
      .then((run) => live && run && watch(run))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [api, watch]);
  useEffect(() => () => controller?.stop(), [controller]);
  const view = useSyncExternalStore(controller?.subscribe ?? noSubscription, controller?.getView ?? noView);
  const test: RunViewState | null = view?.run ?? null;

  /** Save the draft first (a test run runs the saved draft), then start and follow a run. */
  const start = useCallback(
    async (begin: () => Promise<{ id: number }>) => {
      setError("");
      setTesting(true);
      try {
        await saver.save();
        if (saver.getState().status === "conflict") throw new Error(saver.getState().message);
        watch(await begin());
      } catch (failure) {
        setError(messageOf(failure));
      } finally {
        setTesting(false);
      }
    },
    [saver, watch],
  );

  const runTest = useCallback(async () => {
    let input: unknown;
    try {
      input = JSON.parse(sample || "{}");
    } catch {
      setError("Sample input: this is not valid JSON");
      return;
    }
    await start(() => startTestRun(api, input, pin));
  }, [sample, pin, api, start]);

  const runFrom = useCallback(
    async (nodeId: string) => {
      if (runId !== null) await start(() => runFromNode(api, nodeId, runId));
    },
    [runId, api, start],
  );

  return { test, runId, error, sample, setSample, pin, setPin, testing, runTest, runFrom, show: watch };
}
