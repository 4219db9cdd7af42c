// The pure core (src/core.js): the consent state machine and the event shape, and what the
// snippet sends checked against the collector's own pydantic models when Python is at hand.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import * as core from "../src/core.js";
import { HERE, openPage } from "./fake-browser.mjs";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const NOW = Date.parse("2026-01-15T10:00:00Z");
const DAY = 864e5;
const ENV = {
  location: { href: "https://www.example.com/demo/about.html" },
  document: { title: "About", referrer: "" },
  navigator: { userAgent: "Example/1.0", language: "en-GB" },
  screen: { width: 390, height: 844 },
  crypto: globalThis.crypto,
};
const ALL = { necessary: true, analytics: true, marketing: true, preferences: true };
const NONE = { necessary: true, analytics: false, marketing: false, preferences: false };
const granted = { choices: { ...NONE, analytics: true }, consent_id: "c1" };

test("normalize: necessary always on, GPC forces marketing off, junk becomes false", () => {
  assert.deepEqual(core.normalize({ analytics: 1, marketing: true, preferences: "yes" }, false), ALL);
  assert.equal(core.normalize({ marketing: true }, true).marketing, false);
  assert.deepEqual(core.normalize(undefined, false), NONE);
});

test("makeDecision: a refusal lives shorter than a grant; lifetimes come from the config", () => {
  const opts = { gpc: false, policyHash: "h1", now: NOW };
  assert.equal(core.makeDecision({ analytics: true }, opts).expires_at, NOW + 365 * DAY);
  assert.equal(core.makeDecision({}, opts).expires_at, NOW + 180 * DAY);
  const custom = { ...opts, acceptDays: 30, rejectDays: 7 };
  assert.equal(core.makeDecision({ preferences: true }, custom).expires_at, NOW + 30 * DAY);
  assert.equal(core.makeDecision({}, custom).expires_at, NOW + 7 * DAY);
  const gpc = core.makeDecision({ marketing: true }, { ...opts, gpc: true });
  assert.deepEqual(gpc.choices, NONE, "GPC: marketing off, and only marketing was asked for");
  assert.equal(gpc.expires_at, NOW + 180 * DAY);
});

test("loadDecision: in force only under the same policy hash and before it expires", () => {
  const d = JSON.stringify(core.makeDecision({ analytics: true }, { policyHash: "h1", now: NOW }));
  assert.equal(core.loadDecision(d, "h1", NOW + DAY).policyHash, "h1");
  assert.equal(core.loadDecision(d, "h2", NOW + DAY), null, "policy changed: ask again");
  assert.equal(core.loadDecision(d, "h1", NOW + 366 * DAY), null, "expired: ask again");
  assert.equal(core.loadDecision("{not json", "h1", NOW), null);
  assert.equal(core.loadDecision(null, "h1", NOW), null);
  assert.equal(core.loadDecision(JSON.stringify({ choices: ALL, policyHash: "h1" }), "h1", NOW), null, "no expiry: ask again");
});

test("transition: taking back any granted category is a withdrawal", () => {
  const d = (choices) => ({ choices: { ...NONE, ...choices } });
  assert.deepEqual(core.transition(null, d({ analytics: true })), { withdrawn: false, granted: ["analytics"] });
  assert.deepEqual(core.transition(d({ analytics: true }), d({})), { withdrawn: true, granted: [] });
  assert.deepEqual(core.transition(d({ marketing: true, analytics: true }), d({ analytics: true })), { withdrawn: true, granted: [] });
  assert.deepEqual(core.transition(d({}), d({})), { withdrawn: false, granted: [] });
});

test("consentModeSignals: Google Consent Mode v2, everything denied before a choice", () => {
  const before = core.consentModeSignals(null);
  for (const k of ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage"]) assert.equal(before[k], "denied", k);
  const after = core.consentModeSignals({ ...NONE, analytics: true });
  assert.equal(after.analytics_storage, "granted");
  assert.equal(after.ad_user_data, "denied");
  assert.equal(core.consentModeSignals(ALL).ad_personalization, "granted");
});

test("gate: the consent id in force is filled in when an event leaves", () => {
  const ev = core.buildEvent(ENV, "pageview", granted, null, NOW);
  assert.equal(core.gate(ev, granted), ev);
  assert.equal(core.gate(ev, null).consent_id, null, "no decision in force");
  const early = core.buildEvent(ENV, "pageview", { ...granted, consent_id: null }, null, NOW);
  assert.equal(core.gate(early, granted).consent_id, "c1", "consent id filled in once known");
});

test("cookieInventory: names and categories only, never values", () => {
  const inv = core.cookieInventory("_ga=GA1.2.3; theme=dark; _fbp=fb.1; sessionid=s3cr3t; shop_cart=1; x=1", { "shop_*": "necessary" });
  assert.deepEqual(inv, [
    { name: "_fbp", category: "marketing" },
    { name: "_ga", category: "analytics" },
    { name: "sessionid", category: "necessary" },
    { name: "shop_cart", category: "necessary" },
    { name: "theme", category: "preferences" },
    { name: "x", category: "unknown" },
  ]);
  const again = core.cookieInventory("x=1; shop_cart=1; sessionid=s; _fbp=1; theme=l; _ga=2", { "shop_*": "necessary" });
  assert.deepEqual(again, inv, "sorted: a rewritten cookie the browser lists last is no change");
  assert.ok(!JSON.stringify(inv).includes("s3cr3t"));
  assert.deepEqual(core.cookieInventory("", {}), []);
});

test("bannerHash: stable for the same wording, different for another language or text", async () => {
  const { STRINGS } = await import("../src/i18n.js");
  const en = core.bannerHash({ ...STRINGS.en, lang: "en" });
  assert.match(en, /^fnv1a32:[0-9a-f]{8}$/);
  assert.equal(core.bannerHash({ ...STRINGS.en, lang: "en" }), en);
  assert.notEqual(core.bannerHash({ ...STRINGS.de, lang: "de" }), en);
  assert.notEqual(core.bannerHash({ ...STRINGS.en, lang: "en", accept: "OK" }), en);
  assert.equal(core.consentBody({ bannerHash: "site-v3" }, {}, "api", en).banner_hash, "site-v3", "a site's own id wins");
});

test("backoff: doubles per failure, jittered, capped", () => {
  assert.equal(core.backoff(0, 0), 500);
  assert.equal(core.backoff(0, 0.5), 750);
  assert.equal(core.backoff(3, 1), 8000);
  assert.equal(core.backoff(20, 1), 60000);
});

test("uuid: a v4 UUID with or without crypto.randomUUID", () => {
  assert.match(core.uuid({ getRandomValues: (b) => globalThis.crypto.getRandomValues(b) }), UUID_RE);
  assert.match(core.uuid(globalThis.crypto), UUID_RE);
});

test("buildEvent: never a visitor id (the collector's cookie says who); the Event model's fields within limits", () => {
  assert.ok(!("visitor_id" in core.buildEvent(ENV, "pageview", null, null, NOW)));
  const long = { ...ENV, document: { title: "t".repeat(300), referrer: "" }, location: { href: "https://www.example.com/" + "a".repeat(3000) } };
  const e = core.buildEvent(long, "bogus", granted, { plan: "basic" }, NOW);
  assert.equal(e.type, "custom");
  assert.ok(!("visitor_id" in e));
  assert.equal(e.ts, "2026-01-15T10:00:00.000Z");
  assert.equal(e.page.url.length, 2048);
  assert.equal(e.page.title.length, 256);
  assert.equal(e.browser.screen, "390x844");
  assert.deepEqual(e.props, { plan: "basic" });
});

test("referrerOrigin: only the origin leaves, never a path or query", () => {
  assert.equal(core.referrerOrigin("https://www.example.com/account?email=a%40example.com#x"), "https://www.example.com/");
  assert.equal(core.referrerOrigin(""), "");
  assert.equal(core.referrerOrigin("android-app://com.example/"), "");
});

test("consentBody: a decision id always, never a visitor id", () => {
  const body = core.consentBody({ policyVersion: "v", policyHash: "h" }, { necessary: true }, "banner", "fnv1a32:0", "d-1");
  assert.deepEqual(body, { decision_id: "d-1", choices: { necessary: true }, policy_version: "v", policy_hash: "h", banner_hash: "fnv1a32:0", source: "banner" });
});

test("pageUrl and cleanProps: no query but utm_*, no fragment; flat small props", () => {
  assert.equal(
    core.pageUrl("https://www.example.com/bill?account=123&utm_source=mail&email=a%40example.com#pay"),
    "https://www.example.com/bill?utm_source=mail",
  );
  assert.equal(core.pageUrl("not a url"), "");
  const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i]));
  assert.equal(Object.keys(core.cleanProps(many)).length, 20);
  const p = core.cleanProps({ ["x".repeat(65)]: 1, s: "y".repeat(300), n: null, b: false, o: [1] });
  assert.deepEqual(Object.keys(p), ["s", "n", "b", "o"]);
  assert.equal(p.s.length, 256);
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
    for raw in EventBatch.model_validate(body).events:
        Event.model_validate(raw)
for body in sent["consents"]:
    ConsentRequest.model_validate(body)
print(sum(len(b["events"]) for b in sent["batches"]), len(sent["consents"]))
`;

test("what the snippet sends validates against the collector's pydantic models", async (t) => {
  const python = projectPython();
  if (!python) return t.skip("no project Python (.venv or CONSENTSTREAM_PYTHON) to validate with");
  const page = openPage({ cookie: "_ga=GA1.2.3; theme=dark" });
  page.find("Reject all").click();
  await page.flush();
  page.find("Privacy settings").click();
  page.find("Accept all").click();
  await page.flush();
  page.api.track("custom", { plan: "basic", kwh: 12.5 });
  page.api.consent.withdraw();
  page.win.history.pushState({}, "", "/demo/about.html");
  await page.flush();
  const sent = { batches: page.requests.filter((r) => r.url.endsWith("/v1/events")).map((r) => r.body), consents: page.consents() };
  const run = spawnSync(python, ["-c", VALIDATE], { input: JSON.stringify(sent), cwd: join(HERE, "..", ".."), encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  // load: pageview; reject: cookies (_ga, theme and the decision cookie); the withdrawal deletes
  // _ga and theme, so the inventory changes: cookies again; custom dropped by the withdrawal;
  // pushState: pageview. Decisions: reject (anonymous), accept, withdrawal.
  assert.equal(run.stdout.trim(), "4 3");
});
