// The budget (BRIEF §6): banner and tracker, JS and CSS together, at most 8 KB gzipped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

import { BUILT } from "./fake-browser.mjs";

test("dist/snippet.js (CSS inlined) is at most 8 KB gzipped", (t) => {
  const source = readFileSync(BUILT);
  const size = gzipSync(source, { level: 9 }).length;
  t.diagnostic(`snippet: ${source.length} bytes minified, ${size} bytes gzipped`);
  assert.ok(source.includes("#cs-banner{"), "the CSS is in the bundle");
  assert.ok(size <= 8 * 1024, `${size} bytes gzipped is over the 8 KB budget`);
});
