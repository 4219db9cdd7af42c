// consentstream: consent banner, consent API and tracker in one first-party script.
// A static file (so Subresource Integrity can pin it), configured by the data- attributes of its
// own script tag; a site may add options in window.consentstreamOptions (see README.md).
import { createBanner } from "./banner.js";
import * as core from "./core.js";
import { pickStrings } from "./i18n.js";
import { createQueue, createSender } from "./queue.js";
import { safeStorage } from "./storage.js";

const KEY = "cs_consent", QUEUE = "cs_queue", SEEN = "cs_cookies", SVC = "cs_services";
const w = globalThis, doc = w.document;
// currentScript exists only while this file first runs: read the tag now.
const tag = doc && doc.currentScript;
const cfg = { ...w.consentstreamOptions, ...core.tagConfig(tag, w.location && w.location.href) };
// One snippet per page even when the tag is there twice: the flag is set before waiting for the
// document, so a second copy loaded meanwhile finds it. A script in <head> without defer runs
// before <body> exists: wait for it.
if (doc && cfg.endpoint && !w.__consentstreamLoaded) {
  w.__consentstreamLoaded = true;
  doc.body ? start() : doc.addEventListener("DOMContentLoaded", start);
}

function start() {
  const nav = w.navigator || {}, api = String(cfg.endpoint || "").replace(/\/$/, "");
  const store = safeStorage(() => w.localStorage);
  const get = (k) => store.getItem(k);
  const put = (k, v) => (v == null ? store.removeItem(k) : store.setItem(k, v));
  const now = () => Date.now();
  const gpc = () => !!nav.globalPrivacyControl;
  // One decision per site: a first-party cookie on data-cookie-domain (else this host), so
  // www and shop ask once; the newer of it and this host's own copy holds.
  const shared = () => {
    try {
      return decodeURIComponent((doc.cookie.match(/(?:^|; )cs_consent=([^;]*)/) || [])[1] || "");
    } catch (e) {
      return null;
    }
  };
  const decision = () => {
    const a = core.loadDecision(get(KEY), cfg.policyHash, now()), b = core.loadDecision(shared(), cfg.policyHash, now());
    return b && (!a || b.decided_at > a.decided_at) ? b : a;
  };
  const keep = (d) => {
    put(KEY, JSON.stringify(d));
    // The receipt stays in this host's storage: a cookie travels with every request.
    doc.cookie = "cs_consent=" + encodeURIComponent(JSON.stringify({ ...d, receipt: null })) + "; path=/; SameSite=Lax; max-age=" + Math.round((d.expires_at - now()) / 1e3) + (cfg.cookieDomain ? "; domain=" + cfg.cookieDomain : "");
  };
  // The visitor id lives only in the collector's HttpOnly cookie: forget any an older
  // snippet kept where every script on the page could read it.
  put("cs_vid", null), put("cs_token", null);
  const listeners = [];

  // ---- delivery
  const send = (path, body) => {
    const consent = path === "/v1/consent";
    return w
      .fetch(api + path, {
        method: "POST",
        keepalive: true,
        // The collector's HttpOnly visitor cookie: it alone says who the visitor is, set on an
        // analytics grant, cleared on withdrawal; sent to a collector on a subdomain too.
        credentials: "include",
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
    prepare: (ev) => core.gate(ev, decision()),
    // waitForChoice: nothing at all leaves before the visitor decides.
    ready: () => !cfg.waitForChoice || !!decision(),
    online: () => nav.onLine !== false,
    warn: (m) => w.console && w.console.warn(m),
    maxTries: cfg.maxTries,
    batchSize: cfg.batchSize,
    flushMs: cfg.flushMs,
    onRecorded(item, data) {
      const d = decision();
      if (!data || !d || d.decided_at !== item.decided_at) return;
      keep({ ...d, consent_id: data.consent_id, receipt: data.receipt });
    },
  });

  function track(type, props, extra) {
    const d = decision(), ev = core.buildEvent(w, type, d, props, now());
    // `a`: made under an analytics grant, so a withdrawal takes it back while still queued.
    sender.add({ id: ev.event_id, k: "e", a: !!(d && d.choices.analytics), ev: { ...ev, ...extra } });
    return ev.event_id;
  }
  /** The page's cookie names, only once a choice exists and only when they changed. */
  function trackCookies() {
    const cookies = core.cookieInventory(doc.cookie, cfg.cookies);
    const seen = core.fingerprint(cookies);
    if (!decision() || !cookies.length || get(SEEN) === seen) return;
    put(SEEN, seen);
    track("cookie", null, { cookies });
  }

  // ---- consent
  // Google Consent Mode: through gtag when the page has it, else onto the dataLayer, where a
  // gtag.js loaded later finds the commands in order (it reads Arguments objects, not arrays).
  function gtag() {
    if (typeof w.gtag === "function") return w.gtag.apply(w, arguments);
    (w.dataLayer = w.dataLayer || []).push(arguments);
  }
  // The catalogue of the site's cookies (GET /snippet/cookies.json), fetched once when needed.
  let catalogue = null;
  const known = () =>
    (catalogue =
      catalogue ||
      w
        .fetch(api + "/snippet/cookies.json")
        .then((r) => r.json())
        .then((b) => Object.fromEntries(b.cookies.map((c) => [c.name, c.category])))
        .catch(() => ({})));
  /** Expire the page's cookies of every category not granted (names from the catalogue). */
  function clearCookies(choices) {
    if (!doc.cookie || !core.CATEGORIES.some((k) => !choices[k])) return Promise.resolve();
    return known().then((cat) => {
      for (const { name, category } of core.cookieInventory(doc.cookie, { ...cat, ...cfg.cookies })) {
        if (choices[category] !== false) continue;
        for (const domain of core.cookieDomains(w.location.hostname)) doc.cookie = name + "=; Max-Age=0; path=/" + domain;
      }
    });
  }
  const ran = {}; // categories whose blocked scripts run in this page
  function applyConsent(choices) {
    gtag("consent", "update", core.consentModeSignals(choices));
    clearCookies(choices);
    doc.querySelectorAll('script[type="text/plain"][data-category]').forEach((old) => {
      const cat = old.getAttribute("data-category");
      // A service the visitor switched off in the second layer stays off within its category.
      if ((cat !== "necessary" && !choices[cat]) || ("" + get(SVC)).includes("|" + old.getAttribute("data-service") + "|")) return;
      ran[cat] = true;
      const s = doc.createElement("script");
      for (const a of old.attributes) if (a.name !== "type" && a.name !== "data-category") s.setAttribute(a.name, a.value);
      // The browser hides a nonce attribute from getAttribute: carry it by property, or the
      // snippet's own, so a strict Content-Security-Policy lets the script run.
      s.nonce = old.nonce || cfg.nonce || "";
      s.textContent = old.textContent;
      old.replaceWith(s);
    });
  }
  function changed(choices) {
    banner.close();
    applyConsent(choices);
    listeners.forEach((fn) => {
      try {
        fn({ ...choices });
      } catch (e) {
        /* a listener's error is the site's */
      }
    });
  }

  /**
   * Keep the decision, queue it for the consent ledger, apply it. Every decision is posted, a
   * refusal too; the collector's cookie says whose it is (a withdrawal reaches that visitor's
   * record and clears the cookie) and the collector mints an id on an analytics grant.
   */
  function decide(raw, source) {
    const before = decision();
    const d = core.makeDecision(raw, { gpc: gpc(), policyHash: cfg.policyHash, now: now(), acceptDays: cfg.acceptDays, rejectDays: cfg.rejectDays });
    // Taking analytics back drops the identified events still queued; the rest (decisions,
    // anonymous events) stays.
    if (before && before.choices.analytics && !d.choices.analytics) queue.drop((i) => i.k === "e" && i.a);
    keep(d);
    const did = core.uuid(w.crypto);
    sender.add({ id: did, k: "c", decided_at: d.decided_at, body: core.consentBody(cfg, d.choices, source, shown, did) });
    changed(d.choices);
    trackCookies();
    // A script that already runs cannot be stopped: a fresh page without it is the only way
    // to make the withdrawal take (once the decision has left or is queued).
    // Not offline: the reload would show the browser's error page instead.
    if (core.CATEGORIES.some((k) => ran[k] && !d.choices[k]) && nav.onLine !== false && w.location.reload) sender.flush().then(() => w.location.reload());
    return { ...d.choices };
  }
  const choicesInForce = () => {
    const d = decision();
    return d ? core.normalize(d.choices, gpc()) : null;
  };

  // ---- page
  const strings = pickStrings(cfg.lang || (doc.documentElement && doc.documentElement.lang), cfg.strings);
  const shown = core.bannerHash(strings);
  // The second layer loads when the visitor asks for details; it finds what it needs on __cs2.
  const details = (box) =>
    w.__cs2 ||
    ((w.__cs2 = { box, api, lang: strings.lang, cfg, store, tag }),
    doc.head.appendChild(Object.assign(doc.createElement("script"), { src: api + "/snippet-details.js", nonce: cfg.nonce })));
  const banner = createBanner(doc, strings, { decide: (c) => decide(c, "banner"), current: choicesInForce, gpc, css: cfg.css, more: details });
  // Calls made before the script loaded, on a stub the site defined:
  // window.consentstream = window.consentstream || {q: []}; consentstream.q.push(["track", "custom", {…}])
  const early = (w.consentstream && w.consentstream.q) || [];
  const page = (w.consentstream = {
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
    // The visitor privacy center on the collector's origin: choices, history, requests. Only
    // there is the visitor proven (their cookie and a CSRF token): request() opens it too.
    privacy: { request: () => Promise.resolve(!!w.open(api + "/privacy/")), open: () => w.open(api + "/privacy/") },
  });

  gtag("consent", "default", { ...core.consentModeSignals(null), wait_for_update: 500 });
  const d = decision();
  // GPC switched on after a marketing grant: the grant no longer holds, and the record says so.
  if (d && d.choices.marketing && gpc()) decide(d.choices, "gpc");
  else if (d) applyConsent(d.choices);
  else banner.open();

  // A decision taken in another tab of this site applies here too.
  w.addEventListener("storage", (e) => {
    if (e.key !== KEY) return;
    const c = choicesInForce();
    if (c) changed(c);
  });

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
  w.addEventListener("hashchange", navigated);
  const leaving = () => sender.beaconAll(nav.onLine !== false);
  w.addEventListener("pagehide", leaving);
  doc.addEventListener("visibilitychange", () => doc.visibilityState === "hidden" && leaving());
  w.addEventListener("online", () => sender.retryNow());
  if (cfg.trackClicks || cfg.trackLinks) {
    doc.addEventListener("click", (e) => {
      const c = choicesInForce(), a = e.target && e.target.closest && e.target.closest("a");
      // Links leaving the site and file downloads (data-track-links), as origin and path only.
      const kind = a && /^http/.test(a.protocol) && (a.host !== w.location.host ? "outbound" : /\.(pdf|zip|csv|docx?|xlsx?)$/i.test(a.pathname) && "download");
      if (cfg.trackLinks && kind && c && c.analytics) track("click", { kind, url: a.origin + a.pathname });
      const t = cfg.trackClicks && e.target.closest && e.target.closest("a,button,[data-cs-click]");
      // Click text is the visitor's behaviour: only under an analytics grant.
      if (t && c && c.analytics && !t.closest("#cs-banner,#cs-open,[data-cs-open]")) track("click", { tag: t.tagName.toLowerCase(), text: core.cut(t.textContent.trim(), 64), id: t.id || null });
    });
  }
  if (queue.items().length) sender.flush(); // left by an earlier page: send it now
  track("pageview");
  trackCookies();
  for (const [name, ...args] of early) {
    const [o, f] = String(name).split(".");
    try {
      (f ? page[o][f] : page[o])(...args);
    } catch (e) {
      /* a bad queued call is the site's */
    }
  }
}
