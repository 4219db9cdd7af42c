/* consentstream web snippet: consent banner + page tracker, no dependencies.
 * GET /snippet.js prefixes window.__consentstreamConfig = {endpoint, policyVersion, policyHash, categories}.
 * With globalThis.__CS_TEST__ set, the pure core is also exposed as globalThis.__consentstreamCore. */
(function (w) {
  "use strict";
  const KEY = "cs_consent", VID = "cs_vid", VID_RE = /^[A-Za-z0-9_-]{8,64}$/;
  const CATS = ["analytics", "marketing", "preferences"];
  const TYPES = ["pageview", "cookie", "click", "custom", "identify"];

  // ---- pure core: no DOM, no network; everything it needs is passed in
  const cut = (v, n) => String(v == null ? "" : v).slice(0, n);

  /** Choices as the collector wants them: necessary always on, GPC forces marketing off. */
  function normalize(c, gpc) {
    c = c || {};
    const analytics = !!c.analytics, preferences = !!c.preferences;
    return { necessary: true, analytics, marketing: !!c.marketing && !gpc, preferences };
  }

  /** The stored decision if it was made under this policy; null means ask again. */
  function current(raw, policyHash) {
    let d = null;
    try { d = JSON.parse(raw); } catch (e) { /* corrupt: ask again */ }
    return d && d.choices && d.policyHash === policyHash ? d : null;
  }

  /** A v4 UUID; randomUUID is missing outside secure contexts. */
  function uuid(c) {
    if (c.randomUUID) return c.randomUUID();
    const b = c.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  /** The page URL without its fragment and without query parameters other than utm_*. */
  function pageUrl(href) {
    try {
      const u = new URL(href), keep = new URLSearchParams();
      u.searchParams.forEach((v, k) => k.startsWith("utm_") && keep.append(k, v));
      u.search = keep.toString();
      u.hash = "";
      return cut(u.href, 2048);
    } catch (e) {
      return "";
    }
  }

  /** A flat props map the collector accepts: at most 20 keys, primitive values. */
  function cleanProps(p) {
    const out = {};
    Object.keys(p || {}).filter((k) => k && k.length <= 64).slice(0, 20).forEach((k) => {
      const v = p[k], t = typeof v;
      out[k] = v === null || t === "number" || t === "boolean" ? v : cut(v, 256);
    });
    return out;
  }

  /** One event in the collector's Event shape; visitor_id only while analytics is granted. */
  function buildEvent(env, type, decision, vid, props) {
    const { document: d, navigator: n, screen: sc } = env;
    const e = {
      event_id: uuid(env.crypto),
      type,
      ts: new Date().toISOString(),
      visitor_id: decision && decision.choices.analytics && vid ? vid : null,
      consent_id: (decision && decision.consent_id) || null,
      page: { url: pageUrl(env.location.href), title: cut(d.title, 256), referrer: cut(d.referrer, 2048) },
      browser: {
        user_agent: cut(n.userAgent, 512),
        language: cut(n.language, 35),
        screen: sc ? cut(sc.width + "x" + sc.height, 20) : "",
        timezone: cut(Intl.DateTimeFormat().resolvedOptions().timeZone, 64),
      },
    };
    if (props) e.props = cleanProps(props);
    return e;
  }

  /** The POST /v1/consent body. */
  function consentBody(cfg, choices, vid, source) {
    const policy_version = cfg.policyVersion || "", policy_hash = cfg.policyHash || "";
    return { visitor_id: vid, choices, policy_version, policy_hash, banner_hash: "", source };
  }

  const core = { normalize, current, uuid, pageUrl, cleanProps, buildEvent, consentBody, VID_RE };
  if (w.__CS_TEST__) w.__consentstreamCore = core;
  if (!w.document || !w.__consentstreamConfig) return;

  // ---- browser wiring
  const cfg = w.__consentstreamConfig, doc = w.document, nav = w.navigator || {};
  const api = String(cfg.endpoint || "").replace(/\/$/, "");
  const gpc = () => !!nav.globalPrivacyControl;
  const get = (k) => {
    try { return w.localStorage.getItem(k); } catch (e) { return null; }
  };
  const put = (k, v) => {
    try { v == null ? w.localStorage.removeItem(k) : w.localStorage.setItem(k, v); } catch (e) { /* off */ }
  };
  const decision = () => current(get(KEY), cfg.policyHash);
  const post = (path, body, type) =>
    w.fetch(api + path, { method: "POST", keepalive: true, headers: { "Content-Type": type }, body: JSON.stringify(body) });

  function track(type, props) {
    const ev = buildEvent(w, TYPES.includes(type) ? type : "custom", decision(), get(VID), props);
    return post("/v1/events", { events: [ev], sent_at: new Date().toISOString() }, "text/plain").catch(() => null);
  }

  /** Keep the decision, tell the collector (only under a visitor id), then count the page. */
  function decide(raw, source) {
    const choices = normalize(raw, gpc());
    let vid = get(VID);
    if (vid && !VID_RE.test(vid)) vid = null;
    if (!vid && choices.analytics) put(VID, (vid = uuid(w.crypto).replace(/-/g, "")));
    const d = { choices, policyHash: cfg.policyHash, consent_id: null, decided_at: new Date().toISOString() };
    put(KEY, JSON.stringify(d));
    // A refusal is still posted under an existing id, so a withdrawal reaches the ledger.
    const sent = vid
      ? post("/v1/consent", consentBody(cfg, choices, vid, source), "application/json")
        .then((r) => (r.ok ? r.json() : null))
        .then((r) => r && r.consent_id && put(KEY, JSON.stringify({ ...d, consent_id: r.consent_id, receipt: r.receipt })))
        .catch(() => null)
      : Promise.resolve();
    if (!choices.analytics) put(VID, null);
    close();
    return sent.then(() => track("pageview")).then(() => ({ ...choices }));
  }

  // ---- banner: DOM calls only (no innerHTML), built once
  let box, opts, boxes, save, opener;
  function el(tag, props, kids) {
    const e = doc.createElement(tag);
    for (const k in props) k === "role" || k.includes("-") ? e.setAttribute(k, props[k]) : (e[k] = props[k]);
    for (const c of kids || []) e.appendChild(typeof c === "string" ? doc.createTextNode(c) : c);
    return e;
  }
  function button(textContent, onclick, className = "cs-b") {
    const b = el("button", { type: "button", className, textContent });
    b.addEventListener("click", onclick);
    return b;
  }
  const CSS =
    "#cs-banner{position:fixed;left:1rem;right:1rem;bottom:1rem;max-width:40rem;margin:auto;z-index:2147483646;" +
    "background:#fff;color:#111;border:1px solid #555;border-radius:8px;padding:1rem;font:15px/1.4 system-ui,sans-serif}" +
    "#cs-banner:focus{outline:0}#cs-banner h2{font-size:1.1rem;margin:0 0 .5rem}#cs-banner label{display:block}" +
    ".cs-b{font:inherit;padding:.5rem 1rem;margin:.5rem .5rem 0 0;border:0;border-radius:6px;background:#1a3d7c;color:#fff}" +
    "#cs-open{position:fixed;left:.5rem;bottom:.5rem;font:13px system-ui,sans-serif}" +
    ".cs-b:focus-visible,#cs-open:focus-visible{outline:3px solid #f90;outline-offset:2px}";

  function build() {
    doc.head.appendChild(el("style", { id: "cs-style", textContent: CSS }));
    boxes = CATS.map((name) => el("input", { type: "checkbox", name }));
    const label = (input, text) => el("label", {}, [input, " " + text]);
    opts = el("div", { id: "cs-opts", hidden: true }, [
      label(el("input", { type: "checkbox", checked: true, disabled: true }), "Necessary (always on)"),
      ...boxes.map((b) => label(b, b.name[0].toUpperCase() + b.name.slice(1))),
    ]);
    const all = button("Accept all", () => decide({ analytics: true, marketing: true, preferences: true }, "banner"));
    save = button("Save", () => decide(Object.fromEntries(boxes.map((b) => [b.name, b.checked])), "banner"));
    box = el("div", { id: "cs-banner", role: "dialog", "aria-labelledby": "cs-title", "aria-describedby": "cs-desc", hidden: true, tabIndex: -1 }, [
      el("h2", { id: "cs-title", textContent: "Your privacy choices" }),
      el("p", { id: "cs-desc", textContent: "We use necessary cookies to run this site. With your permission we also " +
        "measure visits (analytics), tailor offers (marketing) and remember settings (preferences)." }),
      opts,
      el("div", {}, [all, button("Reject all", () => decide({}, "banner")), button("Customize", customize), save]),
    ]);
    box.addEventListener("keydown", (e) => e.key === "Escape" && decision() && close());
    opener = button("Privacy settings", open, "");
    opener.id = "cs-open";
    doc.body.appendChild(box);
    doc.body.appendChild(opener);
  }
  function customize() {
    const d = decision(), g = gpc();
    for (const b of boxes) {
      b.disabled = g && b.name === "marketing";
      b.checked = !!(d && d.choices[b.name]) && !b.disabled;
    }
    opts.hidden = save.hidden = false;
    boxes[0].focus();
  }
  function open() {
    box.hidden = false;
    opts.hidden = save.hidden = true;
    box.focus(); // the dialog, not a button: no choice is pre-highlighted
  }
  function close() {
    if (!box || box.hidden) return;
    box.hidden = true;
    opener.focus();
  }

  w.consentstream = {
    consent: {
      get: () => { const d = decision(); return d ? normalize(d.choices, gpc()) : null; },
      set: (choices) => decide(choices, "api"),
      withdraw: () => decide({}, "api"),
    },
    track,
  };
  function start() {
    build();
    if (!decision()) open();
    track("pageview");
  }
  doc.body ? start() : doc.addEventListener("DOMContentLoaded", start);
})(globalThis);
