// The snippet as a visitor meets it: banner, decisions, what is stored and what is sent.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CONSENT_ID, ENDPOINT, openPage, plain, settle } from "./fake-browser.mjs";

const VID_RE = /^[A-Za-z0-9_-]{8,64}$/;
const decided = (choices, policyHash = "hash-2026") =>
  JSON.stringify({ choices, policyHash, consent_id: CONSENT_ID, decided_at: "2026-01-10T09:00:00.000Z" });
const ALL = { necessary: true, analytics: true, marketing: true, preferences: true };

test("before any decision: accessible banner, anonymous pageview, no visitor id", async () => {
  const page = openPage();
  await settle();
  const banner = page.banner();
  assert.ok(banner.visible, "banner is shown");
  const title = page.doc.all().find((e) => e.id === banner.getAttribute("aria-labelledby"));
  assert.equal(title.textContent, "Your privacy choices");
  for (const label of ["Accept all", "Reject all", "Customize"]) assert.ok(page.find(label).visible, label);
  assert.equal(page.find("Accept all").className, page.find("Reject all").className, "equally prominent");
  assert.equal(page.doc.activeElement, banner, "keyboard focus moves to the dialog, no button pre-selected");
  assert.equal(page.doc.all().filter((e) => e.tagName === "STYLE").length, 1, "CSS injected once");
  assert.equal(page.localStorage.getItem("cs_vid"), null);
  assert.deepEqual(page.consents(), []);
  const [view] = page.events();
  assert.equal(view.type, "pageview");
  assert.equal(view.visitor_id, null);
  assert.equal(view.consent_id, null);
  assert.equal(view.page.url, "https://www.example.com/demo/?utm_source=newsletter", "no other query, no fragment");
});

test("reject all: nothing posted to /v1/consent, decision kept locally, still no visitor id", async () => {
  const page = openPage();
  page.find("Reject all").click();
  await settle();
  assert.deepEqual(page.consents(), []);
  assert.equal(page.localStorage.getItem("cs_vid"), null);
  assert.deepEqual(page.stored().choices, { necessary: true, analytics: false, marketing: false, preferences: false });
  assert.equal(page.stored().policyHash, "hash-2026");
  assert.ok(!page.banner().visible, "banner closes");
  assert.equal(page.doc.activeElement.textContent, "Privacy settings", "focus moves to the reopen link");
  const events = page.events();
  assert.equal(events.length, 2, "pageview on load and after the decision");
  assert.ok(events.every((e) => e.visitor_id === null));
});

test("accept all: visitor id created, consent posted, later events carry id and consent id", async () => {
  const page = openPage();
  page.find("Accept all").click();
  await settle();
  const vid = page.localStorage.getItem("cs_vid");
  assert.match(vid, VID_RE);
  assert.equal(vid.length, 32);
  const consent = page.requests.find((r) => r.url === `${ENDPOINT}/v1/consent`);
  assert.equal(consent.init.method, "POST");
  assert.equal(consent.init.headers["Content-Type"], "application/json");
  assert.deepEqual(consent.body, {
    visitor_id: vid,
    choices: ALL,
    policy_version: "2026-01",
    policy_hash: "hash-2026",
    banner_hash: "",
    source: "banner",
  });
  assert.equal(page.stored().consent_id, CONSENT_ID);
  const after = page.events().at(-1);
  assert.equal(after.visitor_id, vid);
  assert.equal(after.consent_id, CONSENT_ID);
  assert.deepEqual(plain(page.win.consentstream.consent.get()), ALL);
});

test("a stored decision for this policy is honoured; a changed policy hash asks again", async () => {
  const storage = { cs_consent: decided(ALL), cs_vid: "visitor0123456789" };
  const same = openPage({ storage });
  await settle();
  assert.ok(!same.banner().visible);
  assert.equal(same.events()[0].visitor_id, "visitor0123456789");
  const changed = openPage({ storage, policyHash: "hash-2027" });
  await settle();
  assert.ok(changed.banner().visible, "new policy, new question");
  assert.equal(changed.win.consentstream.consent.get(), null);
  assert.equal(changed.events()[0].visitor_id, null, "no consent in force for the new policy");
});

test("Global Privacy Control forces marketing off, in the banner and in what is posted", async () => {
  const page = openPage({ gpc: true });
  page.find("Customize").click();
  const marketing = page.doc.all().find((e) => e.name === "marketing");
  assert.ok(marketing.visible && marketing.disabled && !marketing.checked);
  page.find("Accept all").click();
  await settle();
  assert.equal(page.consents()[0].choices.marketing, false);
  assert.equal(page.stored().choices.marketing, false);
  const set = await page.win.consentstream.consent.set({ analytics: true, marketing: true });
  assert.equal(set.marketing, false);
});

test("customize: only the ticked categories are granted", async () => {
  const page = openPage();
  assert.ok(!page.find("Save").visible);
  page.find("Customize").click();
  const box = (name) => page.doc.all().find((e) => e.name === name);
  assert.ok(box("analytics").visible && !box("analytics").checked, "nothing pre-ticked");
  assert.equal(page.doc.activeElement, box("analytics"));
  box("preferences").checked = true;
  page.find("Save").click();
  await settle();
  assert.deepEqual(page.stored().choices, { necessary: true, analytics: false, marketing: false, preferences: true });
  assert.deepEqual(page.consents(), [], "no analytics, no visitor id, nothing to post");
});

test("withdraw records the withdrawal under the old id, then forgets the id", async () => {
  const page = openPage({ storage: { cs_consent: decided(ALL), cs_vid: "visitor0123456789" } });
  await page.win.consentstream.consent.withdraw();
  await settle();
  const [withdrawal] = page.consents();
  assert.equal(withdrawal.visitor_id, "visitor0123456789");
  assert.equal(withdrawal.choices.analytics, false);
  assert.equal(withdrawal.source, "api");
  assert.equal(page.localStorage.getItem("cs_vid"), null);
  assert.equal(page.events().at(-1).visitor_id, null);
});

test("privacy settings reopens the banner; Escape closes it again once decided", async () => {
  const page = openPage({ storage: { cs_consent: decided(ALL), cs_vid: "visitor0123456789" } });
  page.find("Privacy settings").click();
  assert.ok(page.banner().visible);
  assert.equal(page.doc.activeElement, page.banner());
  page.banner().dispatch("keydown", { key: "Escape" });
  assert.ok(!page.banner().visible);
  const fresh = openPage();
  fresh.banner().dispatch("keydown", { key: "Escape" });
  assert.ok(fresh.banner().visible, "no silent dismissal before a decision");
});

test("a collector that cannot be reached never breaks the page", async () => {
  const page = openPage({ fetchFails: true });
  page.find("Accept all").click();
  await settle();
  assert.equal(page.stored().consent_id, null, "decision kept locally");
  assert.match(page.localStorage.getItem("cs_vid"), VID_RE);
});

test("track sends one event with the collector's transport: text/plain, keepalive, POST", async () => {
  const page = openPage({ storage: { cs_consent: decided(ALL), cs_vid: "visitor0123456789" } });
  await page.win.consentstream.track("click", { button: "pay-bill", amount: 3, nested: { no: 1 } });
  const req = page.requests.at(-1);
  assert.equal(req.url, `${ENDPOINT}/v1/events`);
  assert.deepEqual(
    { method: req.init.method, keepalive: req.init.keepalive, headers: req.init.headers },
    { method: "POST", keepalive: true, headers: { "Content-Type": "text/plain" } },
  );
  assert.deepEqual(Object.keys(req.body).sort(), ["events", "sent_at"]);
  const [event] = req.body.events;
  assert.equal(event.type, "click");
  assert.deepEqual(event.props, { button: "pay-bill", amount: 3, nested: "[object Object]" });
});
