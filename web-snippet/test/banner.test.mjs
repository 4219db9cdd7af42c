// The built snippet as a visitor meets it (dist/snippet.js in a fake page): banner, decisions,
// the page API, what is stored and what is sent.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CONSENT_ID, ENDPOINT, Storage, openPage, plain, settle } from "./fake-browser.mjs";

// The v1 snippet left its visitor id and token in localStorage; this one never has one.
const noId = (body) => !("visitor_id" in body) && !("visitor_token" in body);
const NOW = Date.parse("2026-01-15T10:00:00Z");
const ALL = { necessary: true, analytics: true, marketing: true, preferences: true };
const NONE = { necessary: true, analytics: false, marketing: false, preferences: false };
const decided = (choices, policyHash = "hash-2026") =>
  new Storage({
    cs_consent: JSON.stringify({ choices, policyHash, consent_id: CONSENT_ID, decided_at: NOW - 864e5, expires_at: NOW + 100 * 864e5 }),
    cs_vid: "visitor0123456789",
    cs_token: "tok.sig",
  });

test("before any decision: accessible banner, anonymous pageview, no visitor id", async () => {
  const page = openPage();
  await page.flush();
  const banner = page.banner();
  assert.ok(banner.visible, "banner is shown");
  const title = page.doc.all().find((e) => e.id === banner.getAttribute("aria-labelledby"));
  assert.equal(title.textContent, "Your privacy choices");
  assert.equal(banner.getAttribute("aria-modal"), "true", "focus is kept in it while open");
  for (const label of ["Accept all", "Reject all", "Customize"]) assert.ok(page.find(label).visible, label);
  assert.equal(page.find("Accept all").className, page.find("Reject all").className, "equally prominent");
  assert.equal(page.doc.activeElement, banner, "focus moves to the dialog, no button pre-selected");
  assert.equal(page.doc.all().filter((e) => e.tagName === "STYLE").length, 0, "no inline style (strict CSP)");
  const [sheet] = page.doc.all().filter((e) => e.tagName === "LINK");
  assert.deepEqual([sheet.rel, sheet.href], ["stylesheet", `${ENDPOINT}/snippet.css`], "the collector's stylesheet");
  assert.equal(page.localStorage.getItem("cs_vid"), null);
  assert.deepEqual(page.consents(), []);
  const [view] = page.events();
  assert.equal(view.type, "pageview");
  assert.ok(noId(view));
  assert.equal(view.page.url, "https://www.example.com/demo/?utm_source=newsletter", "no other query, no fragment");
});

test("loaded in <head> without defer: waits for the document, then shows the banner", async () => {
  const page = openPage({ parsing: true });
  assert.equal(page.api, undefined, "nothing yet");
  page.domReady();
  assert.ok(page.banner().visible);
  await page.flush();
  assert.equal(page.events()[0].type, "pageview");
});

test("labels and descriptions: every checkbox is labelled and described", () => {
  const page = openPage();
  page.find("Customize").click();
  const boxes = page.doc.all().filter((e) => e.type === "checkbox");
  assert.equal(boxes.length, 4);
  for (const box of boxes) {
    const label = page.doc.all().find((e) => e.tagName === "LABEL" && e.htmlFor === box.id);
    assert.ok(label && label.children.includes(box), `${box.id} labelled`);
    assert.ok(page.doc.all().find((e) => e.id === box.getAttribute("aria-describedby")), `${box.id} described`);
  }
});

test("German strings from <html lang>, or from the config", () => {
  const de = openPage({ lang: "de-DE" });
  assert.ok(de.find("Alle akzeptieren") && de.find("Alle ablehnen") && de.find("Anpassen"));
  assert.equal(de.banner().lang, "de");
  const forced = openPage({ lang: "en", options: { lang: "de" } });
  assert.ok(forced.find("Datenschutz-Einstellungen"));
  const custom = openPage({ options: { strings: { en: { accept: "Allow all" } }, policyHash: "page-made" } });
  assert.equal(custom.api.consent.set({}).necessary, true);
  assert.equal(custom.stored().policyHash, "hash-2026", "the collector's policy hash wins over the page");
  assert.ok(custom.find("Allow all") && custom.find("Reject all"));
  assert.ok(openPage({ lang: "fr" }).find("Accept all"), "unknown language: English");
});

test("reject all: posted to /v1/consent without any identifier, a shorter lifetime", async () => {
  const page = openPage();
  page.find("Reject all").click();
  await page.flush();
  const [refusal] = page.consents();
  assert.ok(noId(refusal), "a refusal is on record, under the collector's cookie if any");
  assert.deepEqual(refusal.choices, NONE);
  assert.match(refusal.decision_id, /^[0-9a-f-]{36}$/);
  assert.equal(refusal.policy_hash, "hash-2026");
  assert.match(refusal.banner_hash, /^fnv1a32:/);
  assert.equal(page.localStorage.getItem("cs_vid"), null);
  assert.deepEqual(page.stored().choices, NONE);
  assert.equal(page.stored().expires_at, NOW + 180 * 864e5);
  assert.ok(!page.banner().visible, "banner closes");
  assert.equal(page.doc.activeElement.textContent, "Privacy settings", "focus moves to the reopen button");
  assert.ok(page.events().every(noId));
});

test("accept all: no id in the page, decision queued first with credentials, later events carry the consent id", async () => {
  const page = openPage();
  page.find("Accept all").click();
  await page.flush();
  assert.equal(page.localStorage.getItem("cs_vid"), null, "the collector's HttpOnly cookie holds the id");
  const consent = page.requests.find((r) => r.url === `${ENDPOINT}/v1/consent`);
  assert.equal(consent.init.headers["Content-Type"], "application/json");
  assert.equal(consent.init.credentials, "include", "the cookie travels to a collector on a subdomain");
  assert.match(consent.body.banner_hash, /^fnv1a32:[0-9a-f]{8}$/, "which wording was agreed to");
  assert.match(consent.body.decision_id, /^[0-9a-f-]{36}$/);
  assert.deepEqual({ ...consent.body, banner_hash: "", decision_id: "" }, { decision_id: "", choices: ALL, policy_version: "2026-01", policy_hash: "hash-2026", banner_hash: "", source: "banner" });
  assert.equal(page.stored().consent_id, CONSENT_ID);
  assert.equal(page.stored().expires_at, NOW + 365 * 864e5);
  assert.equal(page.localStorage.getItem("cs_token"), null);
  page.api.track("click", { button: "quote" });
  await page.flush();
  const after = page.events().at(-1);
  assert.ok(noId(after));
  assert.equal(after.consent_id, CONSENT_ID);
  assert.deepEqual(plain(page.api.consent.get()), ALL);
});

test("a stored decision is honoured, an older snippet's id forgotten; a changed policy hash asks again", async () => {
  const same = openPage({ storage: decided(ALL) });
  await same.flush();
  assert.ok(!same.banner().visible);
  assert.ok(noId(same.events()[0]) && same.events()[0].consent_id === CONSENT_ID);
  assert.deepEqual([same.localStorage.getItem("cs_vid"), same.localStorage.getItem("cs_token")], [null, null]);
  const changed = openPage({ storage: decided(ALL), policyHash: "hash-2027" });
  await changed.flush();
  assert.ok(changed.banner().visible, "new policy, new question");
  assert.equal(changed.api.consent.get(), null);
  assert.equal(changed.events()[0].consent_id, null, "no consent in force for the new policy");
});

test("Global Privacy Control: marketing off and disabled, said in the banner and in what is posted", async () => {
  const page = openPage({ gpc: true });
  assert.ok(page.doc.all().find((e) => e.id === "cs-gpc").visible, "GPC is visible in the banner");
  page.find("Customize").click();
  const marketing = page.doc.all().find((e) => e.name === "marketing");
  assert.ok(marketing.visible && marketing.disabled && !marketing.checked);
  page.find("Accept all").click();
  await page.flush();
  assert.equal(page.consents()[0].choices.marketing, false);
  assert.equal(page.api.consent.set({ analytics: true, marketing: true }).marketing, false);
  assert.ok(!openPage().doc.all().find((e) => e.id === "cs-gpc").visible, "no note without GPC");
});

test("customize: nothing pre-ticked, only the ticked categories are granted", async () => {
  const page = openPage();
  assert.ok(!page.find("Save choices").visible);
  page.find("Customize").click();
  const box = (name) => page.doc.all().find((e) => e.name === name);
  assert.ok(box("analytics").visible && !box("analytics").checked);
  assert.equal(page.doc.activeElement, box("analytics"));
  box("preferences").checked = true;
  page.find("Customize").click();
  assert.ok(box("preferences").checked, "a second click on Customize keeps what was ticked");
  page.find("Save choices").click();
  await page.flush();
  assert.deepEqual(page.stored().choices, { ...NONE, preferences: true });
  const [grant] = page.consents();
  assert.deepEqual(grant.choices, { ...NONE, preferences: true }, "a grant without analytics is on record");
  assert.ok(noId(grant));
  assert.equal(page.localStorage.getItem("cs_vid"), null);
});

test("withdraw: events made under the grant leave the queue, the withdrawal is queued, later events stay", async () => {
  const page = openPage({ storage: decided(ALL), respond: () => 0 }); // network down: events stay queued
  page.api.track("custom", { step: 1 });
  await settle();
  const step = (n) => page.queued().some((i) => i.ev && i.ev.props && i.ev.props.step === n);
  assert.ok(step(1));
  const changes = [];
  page.api.consent.onChange((c) => changes.push(plain(c)));
  page.api.consent.withdraw();
  assert.ok(!step(1), "nothing made under the grant left in the queue");
  assert.deepEqual(page.queued()[0].body.choices, NONE);
  assert.deepEqual(changes, [NONE]);
  page.api.track("custom", { step: 2 });
  assert.ok(step(2) && page.queued().every((i) => !i.ev || noId(i.ev)));
});

test("privacy settings (and any [data-cs-open]) reopen the banner; Escape closes it once decided", async () => {
  const page = openPage({ storage: decided(ALL) });
  page.find("Privacy settings").click();
  assert.ok(page.banner().visible);
  assert.equal(page.doc.activeElement, page.banner());
  page.banner().dispatch("keydown", { key: "Escape" });
  assert.ok(!page.banner().visible);
  const link = page.doc.createElement("a");
  link.setAttribute("data-cs-open", "");
  page.doc.body.appendChild(link);
  link.click();
  assert.ok(page.banner().visible);
  page.find("Reject all").click();
  assert.equal(page.doc.activeElement, link, "focus returns where it came from");
  const fresh = openPage();
  fresh.banner().dispatch("keydown", { key: "Escape" });
  assert.ok(fresh.banner().visible, "no silent dismissal before a decision");
});

test("Google Consent Mode v2: default denied before a choice, update after", () => {
  const page = openPage({ gtag: true });
  assert.deepEqual(page.gtagCalls[0].slice(0, 2), ["consent", "default"]);
  assert.equal(page.gtagCalls[0][2].analytics_storage, "denied");
  assert.equal(page.gtagCalls.length, 1, "no update before a choice");
  page.api.consent.set({ analytics: true });
  const [, verb, signals] = page.gtagCalls.at(-1);
  assert.equal(verb, "update");
  assert.equal(signals.analytics_storage, "granted");
  assert.equal(signals.ad_storage, "denied");
  const returning = openPage({ gtag: true, storage: decided(ALL) });
  assert.deepEqual(returning.gtagCalls.map((c) => c[1]), ["default", "update"]);
});

test('scripts typed "text/plain" run only once their category is granted', () => {
  const scripts = [
    { attrs: { type: "text/plain", "data-category": "analytics", src: "https://cdn.example.com/a.js" }, text: "" },
    { attrs: { type: "text/plain", "data-category": "marketing" }, text: "window.m = 1" },
  ];
  const page = openPage({ scripts });
  assert.equal(page.doc.replaced.length, 0, "nothing runs before consent");
  page.api.consent.set({ analytics: true });
  assert.equal(page.doc.replaced.length, 1);
  const [active] = page.doc.replaced;
  assert.equal(active.getAttribute("src"), "https://cdn.example.com/a.js");
  assert.equal(active.getAttribute("type"), null, "a real script now");
  page.api.consent.set({ analytics: true, marketing: true });
  assert.equal(page.doc.replaced.length, 2);
  assert.equal(page.doc.replaced[1].textContent, "window.m = 1");
});

test("SPA: history API and back/forward count page views, once per URL", async () => {
  const page = openPage({ href: "https://www.example.com/app/" });
  page.win.history.pushState({}, "", "/app/billing?account=7");
  page.win.history.replaceState({}, "", "/app/billing?account=7#tab");
  page.win.location.href = "https://www.example.com/app/";
  page.win.dispatch("popstate");
  await page.flush();
  assert.deepEqual(
    page.events().filter((e) => e.type === "pageview").map((e) => e.page.url),
    ["https://www.example.com/app/", "https://www.example.com/app/billing", "https://www.example.com/app/"],
  );
});

test("cookie inventory once a choice exists, and again only when it changed: names and categories only", async () => {
  const page = openPage({ cookie: "_ga=GA1.2.3; theme=dark" });
  await page.flush();
  assert.equal(page.events().filter((e) => e.type === "cookie").length, 0, "no cookie names before a choice");
  page.api.consent.set({ analytics: true });
  page.api.consent.set({ analytics: true, preferences: true });
  await page.flush();
  const inventories = page.events().filter((e) => e.type === "cookie");
  assert.equal(inventories.length, 1, "the same cookies are reported once");
  // cs_consent: the decision shared across the site's hosts, a necessary cookie.
  assert.deepEqual(inventories[0].cookies, [
    { name: "_ga", category: "analytics" },
    { name: "cs_consent", category: "necessary" },
    { name: "theme", category: "preferences" },
  ]);
  assert.ok(!JSON.stringify(page.requests).includes("GA1.2.3"));
  const jar = "_ga=GA1.2.3; theme=dark; " + page.doc.cookie.match(/cs_consent=[^;]*/)[0];
  const reload = openPage({ cookie: jar, storage: page.localStorage });
  await reload.flush();
  assert.equal(reload.events().filter((e) => e.type === "cookie").length, 0, "not on every page load");
  const more = openPage({ cookie: jar + "; _fbp=fb.1", storage: page.localStorage });
  await more.flush();
  assert.equal(more.events().filter((e) => e.type === "cookie").length, 1, "a new cookie is news");
  const none = openPage({ storage: decided(NONE) });
  await none.flush();
  assert.equal(none.events().filter((e) => e.type === "cookie").length, 0, "no cookies, no event");
});

test("pagehide hands queued events to sendBeacon; clicks are tracked when asked, under analytics", async () => {
  const before = openPage({ options: { trackClicks: true } });
  const early = before.doc.createElement("button");
  before.doc.body.appendChild(early);
  early.click();
  before.win.dispatch("pagehide");
  assert.deepEqual(before.beacons.flatMap((b) => b.body.events).map((e) => e.type), ["pageview"], "no click before a choice");
  const page = openPage({ options: { trackClicks: true }, storage: decided({ ...NONE, analytics: true }) });
  const button = page.doc.createElement("button");
  button.textContent = "Get a quote";
  page.doc.body.appendChild(button);
  button.click();
  page.win.dispatch("pagehide");
  const sent = page.beacons.flatMap((b) => b.body.events);
  assert.deepEqual(sent.map((e) => e.type), ["pageview", "click"]);
  assert.deepEqual(sent[1].props, { tag: "button", text: "Get a quote", id: null });
  assert.equal(page.beacons[0].url, `${ENDPOINT}/v1/events`);
  assert.deepEqual(page.queued(), []);
});

test("events go as text/plain with keepalive, batched, and survive a collector outage", async () => {
  let down = true;
  const page = openPage({ storage: decided(ALL), respond: () => (down ? 503 : null) });
  for (let i = 0; i < 3; i++) page.api.track("custom", { i });
  await page.flush();
  assert.equal(page.queued().length, 4, "kept while the collector answers 503");
  down = false;
  page.win.dispatch("online");
  await settle();
  const ok = page.requests.at(-1);
  assert.deepEqual(
    { method: ok.init.method, keepalive: ok.init.keepalive, credentials: ok.init.credentials, headers: ok.init.headers },
    { method: "POST", keepalive: true, credentials: "include", headers: { "Content-Type": "text/plain" } },
  );
  assert.equal(ok.body.events.length, 4, "one batch");
  assert.deepEqual(page.queued(), []);
});

test("privacy.request and privacy.open open the collector's privacy center: no token in the page", async () => {
  const page = openPage();
  page.find("Accept all").click();
  await page.flush();
  assert.equal(await page.api.privacy.request("deletion"), true);
  page.api.privacy.open();
  assert.deepEqual(page.opened, [`${ENDPOINT}/privacy/`, `${ENDPOINT}/privacy/`]);
  assert.ok(!page.requests.some((r) => r.body && "visitor_token" in r.body));
});

test("included twice: one banner, one pageview", async () => {
  const page = openPage({ twice: true });
  await page.flush();
  assert.equal(page.doc.all().filter((e) => e.getAttribute("role") === "dialog").length, 1);
  assert.equal(page.events().filter((e) => e.type === "pageview").length, 1);
});

test("focus stays in the open dialog: Tab from the last stop goes to the first, Shift+Tab back", () => {
  const page = openPage();
  const tab = (shiftKey = false) => {
    const e = page.banner().dispatch("keydown", { key: "Tab", shiftKey });
    return e.defaultPrevented;
  };
  assert.ok(tab(true), "Shift+Tab from the dialog itself wraps");
  assert.equal(page.doc.activeElement, page.find("Customize"), "the last visible button");
  assert.ok(tab());
  assert.equal(page.doc.activeElement, page.find("Accept all"));
  page.find("Customize").click();
  page.find("Save choices").focus();
  assert.ok(tab());
  assert.equal(page.doc.activeElement.name, "analytics", "the first checkbox once shown");
  page.find("Accept all").focus();
  assert.ok(!tab(), "inside the dialog, Tab moves on as usual");
});

test("a category description is its checkbox's description, not part of its name", () => {
  const page = openPage();
  page.find("Customize").click();
  for (const box of page.doc.all().filter((e) => e.type === "checkbox")) {
    const label = page.doc.all().find((e) => e.tagName === "LABEL" && e.htmlFor === box.id);
    const desc = page.doc.all().find((e) => e.id === box.getAttribute("aria-describedby"));
    assert.ok(desc && ![...label.walk()].some((e) => e === desc), `${box.id}: read once, beside its label`);
  }
});

test("a decision taken in another tab closes this tab's banner and applies here", () => {
  const page = openPage({ gtag: true });
  const changes = [];
  page.api.consent.onChange((c) => changes.push(plain(c)));
  page.localStorage.setItem("cs_consent", JSON.stringify({ choices: ALL, policyHash: "hash-2026", decided_at: NOW, expires_at: NOW + 864e5 }));
  page.win.dispatch("storage", { key: "cs_consent" });
  assert.ok(!page.banner().visible);
  assert.deepEqual(changes, [ALL]);
  assert.equal(page.gtagCalls.at(-1)[2].analytics_storage, "granted");
});

test("a withdrawal of marketing keeps the queued analytics events", async () => {
  const page = openPage({ storage: decided(ALL), respond: () => 0 });
  page.api.track("custom", { step: 1 });
  page.api.consent.set({ analytics: true });
  assert.ok(page.queued().some((i) => i.ev && i.ev.props && i.ev.props.step === 1 && i.a));
});

test("site data blocked: reading localStorage throws, the snippet works from memory", async () => {
  const page = openPage({ storage: "blocked" });
  assert.ok(page.banner().visible, "the banner is shown");
  page.find("Accept all").click();
  assert.deepEqual(plain(page.api.consent.get()), ALL, "the choice holds for this page");
  await page.flush();
  assert.equal(page.consents().length, 1);
  assert.ok(page.events().some((e) => e.type === "pageview"));
});

test("storage full: every write fails, the choice and the queue live in memory", async () => {
  const full = new Storage({ cs_queue: JSON.stringify([{ id: "old", k: "e", ev: { event_id: "old" } }]) });
  full.setItem = () => {
    throw new Error("QuotaExceededError");
  };
  const page = openPage({ storage: full });
  page.find("Accept all").click();
  assert.deepEqual(plain(page.api.consent.get()), ALL, "not null right after Accept");
  page.api.track("custom", { step: 1 });
  await page.flush();
  assert.equal(page.consents().length, 1, "the decision was sent");
  const sent = page.events();
  assert.ok(sent.some((e) => e.event_id === "old"), "what an earlier page left is sent");
  assert.deepEqual(sent.filter((e) => e.event_id !== "old").map((e) => e.type), ["pageview", "cookie", "custom"], "nothing new is dropped");
});

test("withdrawing deletes that category's cookies, by catalogue names and prefixes, on every domain", async () => {
  const catalogue = [
    { name: "_ga*", category: "analytics", purpose: "" },
    { name: "_fbp", category: "marketing", purpose: "" },
    { name: "theme", category: "preferences", purpose: "" },
    { name: "session", category: "necessary", purpose: "" },
  ];
  const page = openPage({ storage: decided(ALL), catalogue, cookie: "_ga=GA1.2.3; _ga_X=1; _fbp=fb.1; theme=dark; session=s1; other=1" });
  await settle();
  assert.equal(page.doc.cookie.includes("_fbp"), true, "nothing withdrawn, nothing deleted");
  page.api.consent.set({ analytics: true, preferences: true });
  await settle();
  assert.equal(page.doc.cookie.replace(/; cs_consent=.*/, ""), "_ga=GA1.2.3; _ga_X=1; theme=dark; session=s1; other=1");
  assert.ok(page.doc.cookieWrites.includes("_fbp=; Max-Age=0; path=/; domain=example.com"), "the parent domain too");
  page.api.consent.withdraw();
  await settle();
  assert.equal(page.doc.cookie.replace(/; cs_consent=.*/, ""), "session=s1; other=1", "necessary and unknown cookies stay");
});

test("a withdrawal of a category whose scripts ran reloads the page once the decision left", async () => {
  const scripts = [{ attrs: { type: "text/plain", "data-category": "marketing" }, text: "window.m = 1" }];
  const page = openPage({ scripts, storage: decided(ALL) });
  let reloads = 0;
  page.win.location.reload = () => reloads++;
  page.api.consent.set({ analytics: true, marketing: true });
  await page.flush();
  assert.equal(reloads, 0, "nothing taken back");
  page.api.consent.set({ analytics: true });
  await page.flush();
  assert.equal(reloads, 1);
  assert.equal(page.consents().at(-1).choices.marketing, false, "the withdrawal was sent first");
});

test("GPC switched on after a marketing grant: marketing is withdrawn on load and Consent Mode says so", async () => {
  const page = openPage({ storage: decided(ALL), gpc: true, gtag: true });
  await page.flush();
  assert.equal(page.api.consent.get().marketing, false);
  const [posted] = page.consents();
  assert.deepEqual([posted.choices.marketing, posted.source], [false, "gpc"]);
  assert.deepEqual(page.gtagCalls.map((c) => c[1]), ["default", "update"]);
  assert.equal(page.gtagCalls.at(-1)[2].ad_storage, "denied");
});

test("Consent Mode without gtag yet: default denied goes onto the dataLayer for a gtag.js loaded later", () => {
  const page = openPage();
  const [first] = page.win.dataLayer;
  assert.deepEqual([...first].slice(0, 2), ["consent", "default"]);
  assert.equal(first[2].ad_storage, "denied");
  page.api.consent.set({ marketing: true });
  const last = page.win.dataLayer.at(-1);
  assert.deepEqual([last[1], last[2].ad_storage], ["update", "granted"]);
});

test("configured by its tag: data- attributes, endpoint from its src, the nonce passed to gated scripts", async () => {
  const scripts = [{ attrs: { type: "text/plain", "data-category": "analytics" }, text: "window.a = 1" }];
  const page = openPage({
    scripts,
    nonce: "n0nce",
    tagAttrs: { "data-css": "/static/banner.css", "data-track-clicks": "", "data-lang": "de", "data-banner-hash": "site-v3" },
  });
  assert.equal(page.banner().lang, "de");
  assert.equal(page.doc.all().find((e) => e.tagName === "LINK").href, "/static/banner.css");
  page.find("Alle akzeptieren").click();
  const [ran] = page.doc.replaced;
  assert.equal(ran.nonce, "n0nce", "a strict CSP lets the gated script run");
  await page.flush();
  const [posted] = page.consents();
  assert.deepEqual([posted.policy_version, posted.policy_hash, posted.banner_hash], ["2026-01", "hash-2026", "site-v3"]);
  assert.ok(page.requests.every((r) => r.url.startsWith(ENDPOINT)), "the endpoint is where the script came from");
  const button = page.doc.createElement("button");
  page.doc.body.appendChild(button);
  button.click();
  page.win.dispatch("pagehide");
  assert.ok(page.beacons.flatMap((b) => b.body.events).some((e) => e.type === "click"), "data-track-clicks");
});

test("no tag to read (inlined, or currentScript gone): the snippet stays off", () => {
  const page = openPage({ tagAttrs: { src: "" } });
  assert.equal(page.api, undefined);
});

test("a queue stub defined before the script: the snippet still runs and replays the queued calls", async () => {
  const seen = [];
  const stub = { q: [["track", "custom", { early: 1 }], ["consent.onChange", (c) => seen.push(plain(c))], ["nope"]] };
  const page = openPage({ stub });
  assert.ok(page.banner().visible, "defining window.consentstream early no longer turns it off");
  page.find("Reject all").click();
  await page.flush();
  assert.ok(page.events().some((e) => e.type === "custom" && e.props.early === 1));
  assert.deepEqual(seen, [NONE]);
});

test("one decision per site: a cookie on data-cookie-domain, read by another host that has none", async () => {
  const www = openPage({ tagAttrs: { "data-cookie-domain": "example.com" } });
  www.find("Reject all").click();
  const write = www.doc.cookieWrites.find((c) => c.startsWith("cs_consent="));
  assert.match(write, /; path=\/; SameSite=Lax; max-age=\d+; domain=example\.com$/);
  assert.ok(!decodeURIComponent(write).includes('"receipt":"'), "the receipt stays in this host's storage");
  const shop = openPage({ href: "https://shop.example.com/", cookie: www.doc.cookie });
  await shop.flush();
  assert.ok(!shop.banner().visible, "shop does not ask again");
  assert.deepEqual(plain(shop.api.consent.get()), NONE);
  const own = openPage({ tagAttrs: {} });
  own.find("Accept all").click();
  assert.ok(!own.doc.cookieWrites.find((c) => c.startsWith("cs_consent=")).includes("domain="), "default: this host only");
});

test("data-track-links: outbound links and file downloads as origin and path, under analytics only", async () => {
  const link = (page, href) => {
    const u = new URL(href, "https://www.example.com/demo/");
    const a = Object.assign(page.doc.createElement("a"), { href: u.href, protocol: u.protocol, host: u.host, origin: u.origin, pathname: u.pathname });
    page.doc.body.appendChild(a);
    a.click();
  };
  const before = openPage({ tagAttrs: { "data-track-links": "" } });
  link(before, "https://partner.example.org/offer?email=a%40example.com");
  before.win.dispatch("pagehide");
  assert.deepEqual(before.beacons.flatMap((b) => b.body.events).map((e) => e.type), ["pageview"], "nothing before a choice");
  const page = openPage({ tagAttrs: { "data-track-links": "" }, storage: decided({ ...NONE, analytics: true }) });
  link(page, "https://partner.example.org/offer?email=a%40example.com");
  link(page, "/files/tariffs-2026.PDF?v=2");
  link(page, "/demo/about.html");
  link(page, "mailto:someone@example.com");
  page.win.dispatch("pagehide");
  const clicks = page.beacons.flatMap((b) => b.body.events).filter((e) => e.type === "click");
  assert.deepEqual(
    clicks.map((e) => e.props),
    [
      { kind: "outbound", url: "https://partner.example.org/offer" },
      { kind: "download", url: "https://www.example.com/files/tariffs-2026.PDF" },
    ],
    "no query (it may carry personal data), no same-site page, no mailto",
  );
});

test("hash-based routes: #/path counts as a page, a plain #anchor does not", async () => {
  const page = openPage({ href: "https://www.example.com/app/#/start", storage: decided(ALL) });
  page.win.location.href = "https://www.example.com/app/#/pricing";
  page.win.dispatch("hashchange");
  page.win.location.href = "https://www.example.com/app/#/pricing";
  page.win.dispatch("hashchange");
  page.win.location.href = "https://www.example.com/app/#/pricing"; // an anchor on the page would not change it
  await page.flush();
  const views = page.events().filter((e) => e.type === "pageview").map((e) => e.page.url);
  assert.deepEqual(views, ["https://www.example.com/app/#/start", "https://www.example.com/app/#/pricing"]);
  const anchors = openPage({ href: "https://www.example.com/app/#top", storage: decided(ALL) });
  anchors.win.location.href = "https://www.example.com/app/#faq";
  anchors.win.dispatch("hashchange");
  await anchors.flush();
  assert.deepEqual(anchors.events().filter((e) => e.type === "pageview").map((e) => e.page.url), ["https://www.example.com/app/"]);
});
