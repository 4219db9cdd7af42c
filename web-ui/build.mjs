// Builds the staff pages' assets into dist/ (served by the API under /ui/static) and copies
// Swagger UI's files into dist/swagger/ (served by both apps under /docs/assets): no CDN.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

await build({
  entryPoints: { ui: "src/ui.js", "ui-style": "src/ui.css" },
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "none",
  outdir: "dist",
  logLevel: "warning",
});

mkdirSync("dist/swagger", { recursive: true });
for (const name of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]) {
  copyFileSync(`node_modules/swagger-ui-dist/${name}`, `dist/swagger/${name}`);
}
