// The snippet's pure core (globalThis.__CS_TEST__), and its output checked against the
// collector's own pydantic models when the project's Python is at hand.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { HERE, loadCore, openPage, plain, settle } from "./fake-browser.mjs";

const core = loadCore();
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ENV = {
  location: { href: "https://www.example.com/demo/about.html" },
  document: { title: "About", referrer: "" },
  navigator: { userAgent: "Example/1.0", language: "en-GB" },
  screen: { width: 390, height: 844 },
  crypto: globalThis.crypto,
};
const granted = { choices: { necessary: true, analytics: true, marketing: false, preferences: false }, consent_id: "c1" };
const refused = { choices: { necessary: true, analytics: false, marketing: false, preferences: false }, consent_id: null };

test("normalize: necessary always on, GPC forces marketing off, junk becomes false", () => {
  assert.deepEqual(plain(core.normalize({ analytics: 1, marketing: true, preferences: "yes" }, false)), {
    necessary: true, analytics: true, marketing: true, preferences: true,
  });
  assert.equal(core.normalize({ marketing: true }, true).marketing, false);
  assert.deepEqual(plain(core.normalize(undefined, false)), { necessary: true, analytics: false, marketing: false, preferences: false });
});

test("current: only a decision for this policy hash counts", () => {
  const stored = JSON.stringify({ choices: granted.choices, policyHash: "h1" });
  assert.equal(core.current(stored, "h1").policyHash, "h1");
  assert.equal(core.current(stored, "h2"), null);
  assert.equal(core.current("{not json", "h1"), null);
  assert.equal(core.current(null, "h1"), null);
});

test("uuid: a v4 UUID with or without crypto.randomUUID; visitor ids fit the collector", () => {
  const fallback = core.uuid({ getRandomValues: (b) => globalThis.crypto.getRandomValues(b) });
  assert.match(fallback, UUID_RE);
  assert.match(core.uuid(globalThis.crypto), UUID_RE);
  assert.match(core.uuid(globalThis.crypto).replace(/-/g, ""), core.VID_RE);
});

test("buildEvent: visitor id only with analytics granted", () => {
  assert.equal(core.buildEvent(ENV, "pageview", null, "visitor0123456789").visitor_id, null);
  assert.equal(core.buildEvent(ENV, "pageview", refused, "visitor0123456789").visitor_id, null);
  assert.equal(core.buildEvent(ENV, "pageview", granted, "visitor0123456789").visitor_id, "visitor0123456789");
});

test("buildEvent: the Event model's fields, nothing else, within its limits", () => {
  const long = { ...ENV, document: { title: "t".repeat(300), referrer: "" }, location: { href: "https://www.example.com/" + "a".repeat(3000) } };
  const e = plain(core.buildEvent(long, "pageview", granted, "visitor0123456789", { plan: "basic" }));
  const eventFields = ["event_id", "type", "ts", "visitor_id", "consent_id", "page", "cookies", "browser", "props"];
  for (const key of Object.keys(e)) assert.ok(eventFields.includes(key), `unknown Event field ${key}`);
  assert.deepEqual(Object.keys(e.page).sort(), ["referrer", "title", "url"]);
  assert.deepEqual(Object.keys(e.browser).sort(), ["language", "screen", "timezone", "user_agent"]);
  assert.match(e.event_id, UUID_RE);
  assert.ok(!Number.isNaN(Date.parse(e.ts)));
  assert.equal(e.page.url.length, 2048);
  assert.equal(e.page.title.length, 256);
  assert.equal(e.browser.screen, "390x844");
  assert.equal(e.consent_id, "c1");
  assert.deepEqual(e.props, { plan: "basic" });
});

test("pageUrl: drops the fragment and every query parameter except utm_*", () => {
  assert.equal(
    core.pageUrl("https://www.example.com/bill?account=123&utm_source=mail&email=a%40example.com#pay"),
    "https://www.example.com/bill?utm_source=mail",
  );
  assert.equal(core.pageUrl("https://www.example.com/about.html"), "https://www.example.com/about.html");
  assert.equal(core.pageUrl("not a url"), "");
});

test("cleanProps: flat, at most 20 keys, names 1-64 characters, short strings", () => {
  const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i]));
  assert.equal(Object.keys(core.cleanProps(many)).length, 20);
  const p = plain(core.cleanProps({ ["x".repeat(65)]: 1, s: "y".repeat(300), n: null, b: false, o: [1] }));
  assert.deepEqual(Object.keys(p), ["s", "n", "b", "o"]);
  assert.equal(p.s.length, 256);
  assert.equal(p.o, "1");
});

function projectPython() {
  const candidates = [process.env.CONSENTSTREAM_PYTHON, join(HERE, "..", "..", ".venv", "bin", "python")];
  return candidates.find((p) => p && existsSync(p));
}

const VALIDATE = `
import json, sys
from schemas.events import ConsentRequest, Event, EventBatch
sent = json.load(sys.stdin)
for body in sent["batches"]:
    batch = EventBatch.model_validate(body)
    for raw in batch.events:
        Event.model_validate(raw)
for body in sent["consents"]:
    ConsentRequest.model_validate(body)
print(sum(len(b["events"]) for b in sent["batches"]), len(sent["consents"]))
`;

test("what the snippet sends validates against the collector's pydantic models", async (t) => {
  const python = projectPython();
  if (!python) return t.skip("no project Python (.venv or CONSENTSTREAM_PYTHON) to validate with");
  const page = openPage({ storage: {} });
  page.find("Accept all").click();
  await settle();
  await page.win.consentstream.track("custom", { plan: "basic", kwh: 12.5 });
  await page.win.consentstream.consent.withdraw();
  await settle();
  const sent = {
    batches: page.requests.filter((r) => r.url.endsWith("/v1/events")).map((r) => r.body),
    consents: page.consents(),
  };
  const run = spawnSync(python, ["-c", VALIDATE], { input: JSON.stringify(sent), cwd: join(HERE, "..", ".."), encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), "4 2");
});
