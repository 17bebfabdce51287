import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// Builds into the Django static folder; django-vite reads the manifest to emit the tags.
// Entries are referenced from templates by their source path, e.g.
// {% vite_asset "src/islands/run-view/main.tsx" %}.
export default defineConfig({
  base: "/static/dist/",
  plugins: [react()],
  build: {
    outDir: "../static/dist",
    emptyOutDir: true,
    manifest: "manifest.json",
    rollupOptions: {
      input: {
        app: "src/app.ts",
        "run-view": "src/islands/run-view/main.tsx",
        "graph-view": "src/islands/graph-view/main.tsx",
        designer: "src/islands/designer/main.tsx",
        // Chart.js is loaded on the costs page, the Quality tab and the eval comparison only.
        costs: "src/pages/costs.ts",
        quality: "src/pages/quality.ts",
        compare: "src/pages/compare.ts",
      },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
