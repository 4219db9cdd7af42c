// A small fake browser for node's test runner: just enough DOM, storage, timers, fetch and
// sendBeacon to run the built dist/snippet.js exactly as the collector serves it (configured by
// the data- attributes of its script tag), and to see what it sends.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const BUILT = join(HERE, "..", "dist", "snippet.js");
export const ENDPOINT = "http://collector.example.com";
export const CONSENT_ID = "0123456789abcdef0123456789abcdef";

class Text {
  constructor(data) {
    this.data = data;
  }
  get textContent() {
    return this.data;
  }
}

class Emitter {
  constructor() {
    this.listeners = {};
  }
  addEventListener(type, fn) {
    (this.listeners[type] ||= []).push(fn);
  }
  dispatch(type, init = {}) {
    const event = { type, target: this, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, ...init };
    for (const fn of this.listeners[type] || []) fn(event);
    return event;
  }
}

class Element extends Emitter {
  constructor(doc, tag) {
    super();
    this.doc = doc;
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parentNode = null;
    this.attrs = {};
    this.hidden = false;
    this.checked = false;
    this.disabled = false;
  }
  setAttribute(name, value) {
    this.attrs[name] = String(value);
  }
  getAttribute(name) {
    return name in this.attrs ? this.attrs[name] : null;
  }
  get attributes() {
    return Object.entries(this.attrs).map(([name, value]) => ({ name, value }));
  }
  appendChild(child) {
    child.parentNode = this;
    this.children.push(child);
    return child;
  }
  replaceWith(other) {
    const i = this.parentNode.children.indexOf(this);
    other.parentNode = this.parentNode;
    this.parentNode.children[i] = other;
    this.parentNode = null;
    this.doc.replaced.push(other);
  }
  get isConnected() {
    return this.parentNode !== null || this === this.doc.body || this === this.doc.head;
  }
  get textContent() {
    return this.children.map((c) => c.textContent).join("");
  }
  set textContent(value) {
    this.children = [new Text(String(value))];
  }
  /** Only what the snippet asks: `[attr]` and comma-separated tag names. */
  matches(selector) {
    return selector.split(",").some((s) => (s.startsWith("[") ? this.getAttribute(s.slice(1, -1)) !== null : this.tagName === s.toUpperCase()));
  }
  querySelectorAll(selector) {
    return [...this.walk()].slice(1).filter((e) => e.matches(selector));
  }
  closest(selector) {
    for (let e = this; e instanceof Element; e = e.parentNode) if (e.matches(selector)) return e;
    return null;
  }
  click() {
    if (this.disabled) return;
    this.dispatch("click");
    this.doc.dispatch("click", { target: this });
  }
  focus() {
    this.doc.activeElement = this;
  }
  *walk() {
    yield this;
    for (const c of this.children) if (c instanceof Element) yield* c.walk();
  }
  get visible() {
    for (let e = this; e; e = e.parentNode) if (e.hidden) return false;
    return true;
  }
}

class Document extends Emitter {
  constructor({ title, referrer, lang, cookie }) {
    super();
    this.title = title;
    this.referrer = referrer;
    this.jar = new Map();
    this.cookieWrites = [];
    for (const pair of String(cookie || "").split(";").filter((c) => c.trim())) {
      const [k, ...v] = pair.split("=");
      this.jar.set(k.trim(), v.join("="));
    }
    this.visibilityState = "visible";
    this.documentElement = { lang };
    this.head = new Element(this, "head");
    this.body = new Element(this, "body");
    this.activeElement = this.body;
    this.replaced = [];
  }
  get cookie() {
    return [...this.jar].map(([k, v]) => k + "=" + v).join("; ");
  }
  /** Writes as a browser takes them: `name=value; attrs`, Max-Age=0 expires. */
  set cookie(s) {
    this.cookieWrites.push(s);
    const [pair, ...attrs] = s.split(";");
    const [k, ...v] = pair.split("=");
    if (attrs.some((a) => /^max-age=0$/i.test(a.trim()))) this.jar.delete(k.trim());
    else this.jar.set(k.trim(), v.join("="));
  }
  createElement(tag) {
    return new Element(this, tag);
  }
  createTextNode(data) {
    return new Text(data);
  }
  all() {
    return [...this.head.walk(), ...this.body.walk()];
  }
  querySelectorAll(selector) {
    if (selector !== 'script[type="text/plain"][data-category]') throw new Error(`fake DOM: unsupported ${selector}`);
    return this.all().filter((e) => e.tagName === "SCRIPT" && e.getAttribute("type") === "text/plain" && e.getAttribute("data-category"));
  }
}

export class Storage {
  constructor(entries = {}) {
    this.map = new Map(Object.entries(entries));
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

/** Timers that run only when a test advances the clock. */
export class Clock {
  constructor(now = Date.parse("2026-01-15T10:00:00Z")) {
    this.now = now;
    this.timers = new Map();
    this.seq = 0;
  }
  set(fn, ms) {
    this.timers.set(++this.seq, { fn, at: this.now + ms });
    return this.seq;
  }
  clear(id) {
    this.timers.delete(id);
  }
  async advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at).find(([, t]) => t.at <= until);
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
      await settle();
    }
    this.now = until;
  }
}

/** Copy a value out of the snippet's realm so deepStrictEqual compares plain objects. */
export const plain = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Let pending promise chains (fetch → json → queue) run to the end. */
export async function settle() {
  for (let i = 0; i < 8; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Load the snippet into a fresh fake page; returns handles to inspect and drive it.
 * `respond(url, body)` answers a fetch: a status number, or throws for a network error.
 */
export function openPage(o = {}) {
  const { storage = new Storage(), gpc = false, policyHash = "hash-2026", lang = "en", options, cookie = "", gtag = false, scripts = [] } = o;
  const respond = o.respond || (() => null);
  const requests = [], beacons = [], gtagCalls = [], opened = [];
  const clock = o.clock || new Clock();
  const doc = new Document({ title: "Home | Utility Management Services", referrer: "https://www.example.com/search", lang, cookie });
  for (const s of scripts) {
    const el = doc.createElement("script");
    for (const [k, v] of Object.entries(s.attrs)) el.setAttribute(k, v);
    el.textContent = s.text;
    doc.head.appendChild(el);
  }
  const localStorage = storage === "blocked" ? null : storage instanceof Storage ? storage : new Storage(storage);
  const fetch = async (url, init = {}) => {
    if (url.endsWith("/snippet/cookies.json")) {
      requests.push({ url, init: {}, body: null });
      return { ok: true, status: 200, json: async () => ({ cookies: o.catalogue || [] }) };
    }
    const body = JSON.parse(init.body);
    requests.push({ url, init: plain({ ...init, body: undefined }), body });
    const status = respond(url, body) ?? (url.endsWith("/v1/consent") ? 201 : 202);
    const consent = url.endsWith("/v1/consent");
    const answer = consent
      ? { consent_id: CONSENT_ID, recorded_at: "2026-01-15T10:00:00Z", receipt: "e30.sig", visitor_token: null }
      : { accepted: body.events?.length, duplicates: 0, rejected: [] };
    const headers = { get: (h) => (h === "Retry-After" && status === 503 ? "7" : null) };
    return { ok: status < 300, status, headers, json: async () => answer };
  };
  const win = new Emitter();
  const location = {
    href: o.href || "https://www.example.com/demo/?utm_source=newsletter&email=a%40example.com#top",
    get hostname() {
      return new URL(this.href).hostname;
    },
    get host() {
      return new URL(this.href).host;
    },
  };
  Object.assign(win, {
    document: doc,
    fetch,
    crypto: globalThis.crypto,
    URL,
    URLSearchParams,
    Intl,
    Date: class extends Date {
      constructor(...a) {
        super(...(a.length ? a : [clock.now]));
      }
      static now() {
        return clock.now;
      }
    },
    setTimeout: (fn, ms) => clock.set(fn, ms),
    clearTimeout: (id) => clock.clear(id),
    navigator: {
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) Example/1.0",
      language: "en-GB",
      sendBeacon: (url, data) => (beacons.push({ url, body: JSON.parse(data) }), o.beaconOk ?? true),
      ...(gpc ? { globalPrivacyControl: true } : {}),
    },
    location,
    history: {
      pushState: (_s, _t, url) => (location.href = new URL(url, location.href).href),
      replaceState: (_s, _t, url) => (location.href = new URL(url, location.href).href),
    },
    screen: { width: 1280, height: 720 },
    open: (url) => (opened.push(url), {}),
    consentstreamOptions: options,
  });
  // Site data blocked: the browser throws on the very read of window.localStorage.
  Object.defineProperty(win, "localStorage", {
    get() {
      if (!localStorage) throw new Error("SecurityError: access is denied for this document");
      return localStorage;
    },
  });
  if (o.stub) win.consentstream = o.stub;
  if (gtag) win.gtag = (...args) => gtagCalls.push(plain(args));
  win.window = win;
  const context = vm.createContext(win);
  // The snippet's own tag, configured by data- attributes, as a site writes it.
  const tag = doc.createElement("script");
  const attrs = { src: ENDPOINT + "/snippet.js", "data-policy-version": "2026-01", "data-policy-hash": policyHash, ...o.tagAttrs };
  for (const [k, v] of Object.entries(attrs)) tag.setAttribute(k, v);
  if (o.nonce) tag.nonce = o.nonce;
  doc.head.appendChild(tag);
  const body = doc.body;
  if (o.parsing) doc.body = null; // a <head> script without defer: no <body> yet
  const code = readFileSync(BUILT, "utf8");
  const run = () => {
    doc.currentScript = tag;
    vm.runInContext(code, context);
    doc.currentScript = null;
  };
  run();
  if (o.twice) run();
  const find = (text) => doc.all().find((e) => e.tagName === "BUTTON" && e.textContent === text);
  const sentTo = (path) => requests.filter((r) => r.url === ENDPOINT + path);
  return {
    win: context,
    doc,
    clock,
    localStorage,
    requests,
    beacons,
    opened,
    gtagCalls,
    find,
    get api() {
      return context.consentstream;
    },
    banner: () => doc.all().find((e) => e.getAttribute("role") === "dialog"),
    events: () => sentTo("/v1/events").flatMap((r) => r.body.events),
    consents: () => sentTo("/v1/consent").map((r) => r.body),
    stored: () => JSON.parse(localStorage.getItem("cs_consent")),
    queued: () => JSON.parse(localStorage.getItem("cs_queue") || "[]"),
    /** The parser reached the end of the document. */
    domReady() {
      doc.body = body;
      doc.dispatch("DOMContentLoaded");
    },
    /** Run the batch timer and let every send finish. */
    async flush() {
      await settle();
      await clock.advance(60_000);
      await settle();
    },
  };
}
