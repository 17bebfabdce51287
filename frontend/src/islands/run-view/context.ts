import { createContext } from "react";
import type { NodeState } from "../../lib/runEvents";

/** Node states by node id; the graph's nodes read their status from here, so the React Flow
 * node list itself never changes while the run progresses. */
export const NodeStatesContext = createContext<Record<string, NodeState>>({});
