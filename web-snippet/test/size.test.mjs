// The budget: the first layer (banner and tracker), JS and CSS together, at most 8 KB gzipped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

import { BUILT } from "./fake-browser.mjs";

test("dist/snippet.js and dist/snippet.css together are at most 8 KB gzipped", (t) => {
  const gz = (path) => {
    const source = readFileSync(path);
    return [source.length, gzipSync(source, { level: 9 }).length];
  };
  const [js, jsGz] = gz(BUILT);
  const [css, cssGz] = gz(BUILT.replace(/\.js$/, ".css"));
  t.diagnostic(`snippet.js: ${js} bytes minified, ${jsGz} gzipped; snippet.css: ${css} bytes, ${cssGz} gzipped; together ${jsGz + cssGz}`);
  assert.ok(!readFileSync(BUILT, "utf8").includes("#cs-banner{"), "no CSS inside the script (strict CSP)");
  assert.ok(jsGz + cssGz <= 8 * 1024, `${jsGz + cssGz} bytes gzipped is over the 8 KB budget`);
});

test("the second layer (dist/snippet-details.js and .css), loaded on Customize, is at most 4 KB gzipped", (t) => {
  const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
  const js = gz(BUILT.replace(/snippet\.js$/, "snippet-details.js")), css = gz(BUILT.replace(/snippet\.js$/, "snippet-details.css"));
  t.diagnostic(`snippet-details.js: ${js} gzipped; snippet-details.css: ${css} gzipped; together ${js + css}`);
  assert.ok(js + css <= 4 * 1024);
});
