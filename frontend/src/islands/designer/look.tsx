// How a node kind looks on a canvas: its icon (lucide, bundled by Vite) and its category's colour.
// Shared by the designer, its node picker and the run view.
import {
  Bot,
  Box,
  Braces,
  Flag,
  Gauge,
  GitBranch,
  Globe,
  Library,
  Route,
  ScanText,
  Send,
  Sparkles,
  Tags,
  Timer,
  UserCheck,
  Zap,
  type LucideIcon,
} from "lucide-react";

const ICONS: Record<string, LucideIcon> = {
  trigger: Zap,
  classify: Tags,
  extract: ScanText,
  generate: Sparkles,
  agent: Bot,
  retrieve: Library,
  confidence_check: Gauge,
  transform: Braces,
  http_request: Globe,
  condition: GitBranch,
  switch: Route,
  delay: Timer,
  reply: Send,
  escalate: Flag,
  approval: UserCheck,
};

/** The category of the built-in kinds, for views that have only the graph (the run view). */
const CATEGORIES: Record<string, string> = {
  trigger: "Triggers",
  classify: "AI",
  extract: "AI",
  generate: "AI",
  agent: "AI",
  retrieve: "AI",
  confidence_check: "AI",
  transform: "Data",
  http_request: "Integrations",
  condition: "Logic",
  switch: "Logic",
  delay: "Logic",
  reply: "Outcomes",
  escalate: "Outcomes",
  approval: "People",
};

/** A CSS-safe category name: the colour comes from `[data-category]` in designer.css. */
export function categoryOf(kind: string, category?: string): string {
  return (category ?? CATEGORIES[kind] ?? "other").toLowerCase().replace(/[^a-z]+/g, "-");
}

export function KindIcon({ kind, size = 16 }: { kind: string; size?: number }) {
  const Icon = ICONS[kind] ?? Box;
  return <Icon className="dz-kind-icon" size={size} aria-hidden="true" strokeWidth={2} />;
}
