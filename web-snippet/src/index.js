// consentstream web snippet: consent banner, consent API and tracker in one first-party script.
// GET /snippet.js prefixes window.__consentstreamConfig = {endpoint, policyVersion, policyHash,
// categories}; a site may add options in window.consentstreamOptions (see README.md).
import { createBanner } from "./banner.js";
import * as core from "./core.js";
import { pickStrings } from "./i18n.js";
import { createQueue, createSender } from "./queue.js";

const KEY = "cs_consent", VID = "cs_vid", TOKEN = "cs_token", QUEUE = "cs_queue";
const w = globalThis, doc = w.document;
// The collector's facts (endpoint, policy) win over the page's options.
const cfg = { ...w.consentstreamOptions, ...w.__consentstreamConfig };
// A script in <head> without defer runs before <body> exists: wait for it.
if (doc && w.__consentstreamConfig && !w.consentstream) doc.body ? start() : doc.addEventListener("DOMContentLoaded", start);

function start() {
  const nav = w.navigator || {}, api = String(cfg.endpoint || "").replace(/\/$/, "");
  const store = w.localStorage;
  const get = (k) => {
    try {
      return store.getItem(k);
    } catch (e) {
      return null;
    }
  };
  const put = (k, v) => {
    try {
      v == null ? store.removeItem(k) : store.setItem(k, v);
    } catch (e) {
      /* storage off: this page only */
    }
  };
  const now = () => Date.now();
  const gpc = () => !!nav.globalPrivacyControl;
  const decision = () => core.loadDecision(get(KEY), cfg.policyHash, now());
  const vid = () => {
    const v = get(VID);
    return v && core.VID_RE.test(v) ? v : null;
  };
  const listeners = [];

  // ---- delivery
  const send = (path, body) => {
    const consent = path === "/v1/consent";
    return w
      .fetch(api + path, {
        method: "POST",
        keepalive: true,
        credentials: "include", // the collector's own visitor cookie, set or cleared on consent
        headers: { "Content-Type": consent ? "application/json" : "text/plain" },
        body: JSON.stringify(body),
      })
      .then((r) => {
        const retryAfter = Number(r.headers && r.headers.get && r.headers.get("Retry-After")) || 0;
        return (consent && r.ok ? r.json() : Promise.resolve(null)).then((data) => ({ status: r.status, data, retryAfter }));
      });
  };
  const beacon = (path, body) => {
    try {
      return !!nav.sendBeacon && nav.sendBeacon(api + path, JSON.stringify(body));
    } catch (e) {
      return false;
    }
  };
  const queue = createQueue(store, QUEUE, cfg.queueCap || 200);
  const sender = createSender({
    queue,
    send,
    beacon,
    now,
    random: Math.random,
    timers: { set: (fn, ms) => w.setTimeout(fn, ms), clear: (id) => w.clearTimeout(id) },
    prepare: (ev) => core.gate(ev, decision(), vid()),
    batchSize: cfg.batchSize,
    flushMs: cfg.flushMs,
    onRecorded(item, data) {
      const d = decision();
      if (!data || !d || d.decided_at !== item.decided_at) return;
      put(KEY, JSON.stringify({ ...d, consent_id: data.consent_id, receipt: data.receipt }));
      if (data.visitor_token) put(TOKEN, data.visitor_token);
    },
  });

  function track(type, props, extra) {
    const ev = core.buildEvent(w, type, decision(), vid(), props, now());
    sender.add({ id: ev.event_id, k: "e", ev: { ...ev, ...extra } });
    return ev.event_id;
  }
  function trackCookies() {
    const cookies = core.cookieInventory(doc.cookie, cfg.cookies);
    if (cookies.length) track("cookie", null, { cookies });
  }

  // ---- consent
  function applyConsent(choices) {
    if (typeof w.gtag === "function") w.gtag("consent", "update", core.consentModeSignals(choices));
    doc.querySelectorAll('script[type="text/plain"][data-category]').forEach((old) => {
      const cat = old.getAttribute("data-category");
      if (cat !== "necessary" && !choices[cat]) return;
      const s = doc.createElement("script");
      for (const a of old.attributes) if (a.name !== "type" && a.name !== "data-category") s.setAttribute(a.name, a.value);
      s.textContent = old.textContent;
      old.replaceWith(s);
    });
  }

  /** Keep the decision, queue it for the ledger (only under a visitor id), apply it. */
  function decide(raw, source) {
    const before = decision();
    const d = core.makeDecision(raw, { gpc: gpc(), policyHash: cfg.policyHash, now: now(), acceptDays: cfg.acceptDays, rejectDays: cfg.rejectDays });
    const change = core.transition(before, d);
    if (change.withdrawn) queue.purge();
    let id = vid();
    if (!id && d.choices.analytics) put(VID, (id = core.uuid(w.crypto).replace(/-/g, "")));
    put(KEY, JSON.stringify(d));
    // A refusal is still recorded under an existing id, so a withdrawal reaches the ledger.
    if (id) sender.add({ id: core.uuid(w.crypto), k: "c", decided_at: d.decided_at, body: core.consentBody(cfg, d.choices, id, source, shown) });
    if (!d.choices.analytics) put(VID, null), put(TOKEN, null);
    banner.close();
    applyConsent(d.choices);
    listeners.forEach((fn) => {
      try {
        fn({ ...d.choices });
      } catch (e) {
        /* a listener's error is the site's */
      }
    });
    trackCookies();
    return { ...d.choices };
  }
  const choicesInForce = () => {
    const d = decision();
    return d ? core.normalize(d.choices, gpc()) : null;
  };

  /**
   * A visitor's own access, portability or deletion request, proven by the signed visitor token
   * the collector issued with the analytics grant (POST /v1/privacy/self-service/requests).
   */
  function privacyRequest(type, jurisdiction) {
    const token = get(TOKEN);
    if (!cfg.privacyUrl) return Promise.reject(new Error("consentstream: privacyUrl is not configured"));
    if (!["access", "portability", "deletion"].includes(type)) return Promise.reject(new Error("consentstream: type must be access, portability or deletion"));
    if (!token) return Promise.reject(new Error("consentstream: no visitor token (analytics was not granted)"));
    const body = { type, visitor_token: token };
    if (jurisdiction) body.jurisdiction = jurisdiction;
    return w
      .fetch(cfg.privacyUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then((r) => r.json().then((answer) => (r.ok ? answer : Promise.reject(Object.assign(new Error("consentstream: " + r.status), { answer })))));
  }

  // ---- page
  const strings = pickStrings(cfg.lang || (doc.documentElement && doc.documentElement.lang), cfg.strings);
  const shown = core.bannerHash(strings);
  const banner = createBanner(doc, strings, { decide: (c) => decide(c, "banner"), current: choicesInForce, gpc });
  w.consentstream = {
    consent: {
      get: choicesInForce,
      set: (choices) => decide(choices, "api"),
      withdraw: () => decide({}, "api"),
      onChange(fn) {
        listeners.push(fn);
        return () => listeners.splice(listeners.indexOf(fn) >>> 0, 1);
      },
      open: () => banner.open(),
    },
    track: (type, props) => track(type, props),
    flush: () => sender.flush(),
    privacy: { request: (type, jurisdiction) => privacyRequest(type, jurisdiction) },
  };

  const d = decision();
  if (typeof w.gtag === "function") {
    w.gtag("consent", "default", { ...core.consentModeSignals(null), wait_for_update: 500 });
  }
  if (d) applyConsent(d.choices);
  else banner.open();

  let last = core.pageUrl(w.location.href);
  const navigated = () => {
    const url = core.pageUrl(w.location.href);
    if (url !== last) (last = url), track("pageview");
  };
  for (const m of ["pushState", "replaceState"]) {
    const orig = w.history && w.history[m];
    if (orig)
      w.history[m] = function () {
        const r = orig.apply(this, arguments);
        navigated();
        return r;
      };
  }
  w.addEventListener("popstate", navigated);
  const leaving = () => sender.beaconAll(nav.onLine !== false);
  w.addEventListener("pagehide", leaving);
  doc.addEventListener("visibilitychange", () => doc.visibilityState === "hidden" && leaving());
  w.addEventListener("online", () => sender.retryNow());
  if (cfg.trackClicks) {
    doc.addEventListener("click", (e) => {
      const t = e.target && e.target.closest && e.target.closest("a,button,[data-cs-click]");
      if (t && !t.closest("#cs-banner,#cs-open,[data-cs-open]")) track("click", { tag: t.tagName.toLowerCase(), text: core.cut(t.textContent.trim(), 64), id: t.id || null });
    });
  }
  if (queue.items().length) sender.flush(); // left by an earlier page: send it now
  track("pageview");
  trackCookies();
}
