// The second layer: loaded only on Customize, its grouping of the catalogue, and the services a
// visitor switched off kept off by the first layer.
import assert from "node:assert/strict";
import { test } from "node:test";

import { group, offList, offValue } from "../src/details.js";
import { ENDPOINT, Storage, openPage } from "./fake-browser.mjs";

const details = (page) => page.doc.all().filter((e) => e.tagName === "SCRIPT" && String(e.src || "").endsWith("/snippet-details.js"));

test("the second layer is fetched once, only when the visitor opens Customize", () => {
  const page = openPage({ nonce: "n0nce" });
  assert.equal(details(page).length, 0, "not with the first layer");
  page.find("Customize").click();
  page.find("Customize").click();
  const [script] = details(page);
  assert.equal(details(page).length, 1, "once");
  assert.equal(script.src, `${ENDPOINT}/snippet-details.js`, "from the collector");
  assert.equal(script.nonce, "n0nce", "with the snippet's nonce, for a strict CSP");
  assert.equal(page.win.__cs2.box, page.banner(), "what the second layer needs is left for it");
  assert.equal(page.win.__cs2.lang, "en");
});

test("catalogue grouped by category, then service (the site itself under '')", () => {
  const cookies = [
    { name: "_ga*", category: "analytics", service: "Google Analytics" },
    { name: "session", category: "necessary", service: "" },
    { name: "_gid", category: "analytics", service: "Google Analytics" },
    { name: "cs_vid", category: "analytics", service: "consentstream" },
  ];
  const g = group(cookies);
  assert.deepEqual(Object.keys(g.analytics), ["Google Analytics", "consentstream"]);
  assert.deepEqual(g.analytics["Google Analytics"].map((c) => c.name), ["_ga*", "_gid"]);
  assert.deepEqual(Object.keys(g.necessary), [""]);
});

test("services switched off round-trip through their stored form", () => {
  assert.equal(offValue([]), null, "nothing off: nothing stored");
  assert.equal(offValue(["Meta Pixel", "Google Ads"]), "|Meta Pixel|Google Ads|");
  assert.deepEqual(offList("|Meta Pixel|Google Ads|"), ["Meta Pixel", "Google Ads"]);
  assert.deepEqual(offList(null), []);
});

test("a gated script of a service switched off stays blocked while its category runs", () => {
  const scripts = [
    { attrs: { type: "text/plain", "data-category": "marketing", "data-service": "Meta Pixel" }, text: "window.fb = 1" },
    { attrs: { type: "text/plain", "data-category": "marketing", "data-service": "Google Ads" }, text: "window.ads = 1" },
    { attrs: { type: "text/plain", "data-category": "marketing" }, text: "window.m = 1" },
  ];
  const page = openPage({ scripts, storage: new Storage({ cs_services: "|Meta Pixel|" }) });
  page.api.consent.set({ marketing: true });
  assert.deepEqual(page.doc.replaced.map((s) => s.textContent), ["window.ads = 1", "window.m = 1"]);
});
