import { defineConfig } from "vitest/config";

// Builds into the Django static folder; django-vite reads the manifest to emit the tags.
export default defineConfig({
  base: "/static/dist/",
  build: {
    outDir: "../static/dist",
    emptyOutDir: true,
    manifest: "manifest.json",
    rollupOptions: {
      input: { app: "src/app.ts" },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
