// A small fake browser for node's test runner: just enough DOM, storage and fetch to run
// snippet.js exactly as the collector serves it (config prefix included), and to see what it sends.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const SNIPPET = readFileSync(join(HERE, "..", "src", "snippet.js"), "utf8");
export const ENDPOINT = "http://collector.example.com";

class Text {
  constructor(data) {
    this.data = data;
  }
  get textContent() {
    return this.data;
  }
}

class Element {
  constructor(doc, tag) {
    this.doc = doc;
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parentNode = null;
    this.attributes = {};
    this.listeners = {};
    this.hidden = false;
    this.checked = false;
    this.disabled = false;
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return name in this.attributes ? this.attributes[name] : null;
  }
  appendChild(child) {
    child.parentNode = this;
    this.children.push(child);
    return child;
  }
  get textContent() {
    return this.children.map((c) => c.textContent).join("");
  }
  set textContent(value) {
    this.children = [new Text(String(value))];
  }
  addEventListener(type, fn) {
    (this.listeners[type] ||= []).push(fn);
  }
  dispatch(type, init = {}) {
    for (const fn of this.listeners[type] || []) fn({ type, target: this, ...init });
  }
  click() {
    if (!this.disabled) this.dispatch("click");
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

class Document {
  constructor({ title, referrer }) {
    this.title = title;
    this.referrer = referrer;
    this.head = new Element(this, "head");
    this.body = new Element(this, "body");
    this.activeElement = this.body;
  }
  createElement(tag) {
    return new Element(this, tag);
  }
  createTextNode(data) {
    return new Text(data);
  }
  addEventListener() {}
  all() {
    return [...this.head.walk(), ...this.body.walk()];
  }
}

class Storage {
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

/** Copy a value out of the snippet's realm so deepStrictEqual compares plain objects. */
export const plain = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

export const CONSENT_ID = "0123456789abcdef0123456789abcdef";

/** Load the snippet into a fresh fake page; returns handles to inspect and drive it. */
export function openPage({ storage = {}, gpc = false, policyHash = "hash-2026", fetchFails = false } = {}) {
  const requests = [];
  const doc = new Document({ title: "Home | Utility Management Services", referrer: "https://www.example.com/search" });
  const localStorage = new Storage(storage);
  const fetch = async (url, init) => {
    requests.push({ url, init: plain({ ...init, body: undefined }), body: JSON.parse(init.body) });
    if (fetchFails) throw new TypeError("Failed to fetch");
    const consent = url.endsWith("/v1/consent");
    const answer = consent
      ? { consent_id: CONSENT_ID, recorded_at: "2026-01-15T10:00:00Z", receipt: "e30.sig" }
      : { accepted: 1, duplicates: 0, rejected: [] };
    return { ok: true, status: consent ? 201 : 202, json: async () => answer };
  };
  const win = {
    document: doc,
    localStorage,
    fetch,
    crypto: globalThis.crypto,
    URL,
    URLSearchParams,
    navigator: {
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) Example/1.0",
      language: "en-GB",
      ...(gpc ? { globalPrivacyControl: true } : {}),
    },
    location: { href: "https://www.example.com/demo/?utm_source=newsletter&email=a%40example.com#top" },
    screen: { width: 1280, height: 720 },
  };
  win.window = win;
  const context = vm.createContext(win);
  const config = { endpoint: ENDPOINT, policyVersion: "2026-01", policyHash, categories: ["necessary", "analytics", "marketing", "preferences"] };
  vm.runInContext(`window.__consentstreamConfig=${JSON.stringify(config)};\n${SNIPPET}`, context);
  const find = (text) => doc.all().find((e) => e.tagName === "BUTTON" && e.textContent === text);
  return {
    win: context,
    doc,
    localStorage,
    requests,
    find,
    banner: () => doc.all().find((e) => e.getAttribute("role") === "dialog"),
    events: () => requests.filter((r) => r.url.endsWith("/v1/events")).flatMap((r) => r.body.events),
    consents: () => requests.filter((r) => r.url.endsWith("/v1/consent")).map((r) => r.body),
    stored: () => JSON.parse(localStorage.getItem("cs_consent")),
  };
}

/** Let pending promise chains (fetch → json → track) run to the end. */
export async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** The pure core, loaded the way a test harness would: __CS_TEST__ set, no DOM, no config. */
export function loadCore() {
  const context = vm.createContext({ __CS_TEST__: true, Intl, URL, URLSearchParams });
  vm.runInContext(SNIPPET, context);
  return context.__consentstreamCore;
}
