// The pure core: no DOM, no network, no clock of its own. Everything it needs is passed in,
// so node's test runner exercises the exact code the browser runs.

export const CATEGORIES = ["analytics", "marketing", "preferences"];
export const EVENT_TYPES = ["pageview", "cookie", "click", "custom", "identify"];
const DAY = 864e5;

export const cut = (v, n) => String(v == null ? "" : v).slice(0, n);

/**
 * The configuration a site writes on the snippet's tag: `data-endpoint` (default: the origin
 * the script came from), `data-policy-version`, `data-policy-hash`, `data-css` (default: the
 * collector's /snippet.css), `data-lang`, `data-banner-hash`, and the
 * switches `data-track-clicks` and `data-wait-for-choice`; the tag's nonce goes to gated scripts.
 */
export function tagConfig(tag, base) {
  const get = (n) => (tag && tag.getAttribute("data-" + n)) || undefined;
  const on = (n) => (tag && tag.getAttribute("data-" + n) !== null) || undefined;
  let endpoint = get("endpoint");
  try {
    endpoint = endpoint || new URL(tag.getAttribute("src") || "x:", base).origin;
  } catch (e) {
    /* no tag: no collector to talk to */
  }
  if (endpoint === "null") endpoint = undefined; // an inline tag, or no src at all
  const cfg = {
    endpoint: endpoint && endpoint.replace(/\/$/, ""),
    policyVersion: get("policy-version"),
    policyHash: get("policy-hash") || "",
    css: get("css") || (endpoint && endpoint.replace(/\/$/, "") + "/snippet.css"),
    lang: get("lang"),
    bannerHash: get("banner-hash"),
    trackClicks: on("track-clicks"),
    trackLinks: on("track-links"),
    waitForChoice: on("wait-for-choice"),
    cookieDomain: get("cookie-domain"),
    nonce: (tag && tag.nonce) || undefined,
  };
  for (const k in cfg) if (cfg[k] === undefined) delete cfg[k];
  return cfg;
}

/** Choices as the collector wants them: necessary always on, GPC forces marketing off. */
export function normalize(c, gpc) {
  c = c || {};
  return { necessary: true, analytics: !!c.analytics, marketing: !!c.marketing && !gpc, preferences: !!c.preferences };
}

/** True when any category beyond the necessary one is granted. */
export const grantsAny = (choices) => !!choices && CATEGORIES.some((k) => choices[k]);

/**
 * A new decision to keep: choices, the policy it answers, and when to ask again.
 * A refusal lives shorter than a grant (lifetimes in days, from the config).
 */
export function makeDecision(raw, { gpc, policyHash, now, acceptDays = 365, rejectDays = 180 }) {
  const choices = normalize(raw, gpc);
  const days = grantsAny(choices) ? acceptDays : rejectDays;
  return { choices, policyHash, consent_id: null, decided_at: now, expires_at: now + days * DAY };
}

/**
 * The stored decision if it is still in force: parsable, made under this policy hash and not
 * expired. Anything else (null) means "ask again" and, until then, necessary only.
 */
export function loadDecision(raw, policyHash, now) {
  let d = null;
  try {
    d = JSON.parse(raw);
  } catch (e) {
    /* corrupt: ask again */
  }
  if (!d || !d.choices || d.policyHash !== policyHash) return null;
  return typeof d.expires_at === "number" && d.expires_at > now ? d : null;
}

/**
 * What changed between two decisions: `withdrawn` when a category granted before is not any more
 * (the queue is purged and the visitor id forgotten), `granted` lists newly granted categories.
 */
export function transition(before, after) {
  const was = (before && before.choices) || {};
  return {
    withdrawn: CATEGORIES.some((k) => was[k] && !after.choices[k]),
    granted: CATEGORIES.filter((k) => after.choices[k] && !was[k]),
  };
}

/** Google Consent Mode v2 signals for a set of choices (null: nothing decided, all denied). */
export function consentModeSignals(choices) {
  const s = (on) => (on ? "granted" : "denied");
  const c = choices || {};
  return {
    ad_storage: s(c.marketing),
    ad_user_data: s(c.marketing),
    ad_personalization: s(c.marketing),
    analytics_storage: s(c.analytics),
    functionality_storage: s(c.preferences),
    personalization_storage: s(c.preferences),
    security_storage: "granted",
  };
}

/** A v4 UUID; randomUUID is missing outside secure contexts. */
export function uuid(c) {
  if (c.randomUUID) return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  return h.replace(/(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
}

/** The page URL without query parameters other than utm_*, and without a fragment but a route's. */
export function pageUrl(href) {
  try {
    const u = new URL(href),
      keep = new URLSearchParams();
    u.searchParams.forEach((v, k) => k.startsWith("utm_") && keep.append(k, v));
    u.search = keep.toString();
    // A hash-based route ("#/pricing") names a page; any other fragment is a place on it.
    if (!u.hash.startsWith("#/")) u.hash = "";
    return cut(u.href, 2048);
  } catch (e) {
    return "";
  }
}

/** Only the origin of a referrer: its path and query may carry what the visitor typed. */
export function referrerOrigin(ref) {
  try {
    const u = new URL(ref);
    return /^https?:$/.test(u.protocol) ? u.origin + "/" : "";
  } catch (e) {
    return "";
  }
}

/** A flat props map the collector accepts: at most 20 keys, primitive values. */
export function cleanProps(p) {
  const out = {};
  Object.keys(p || {})
    .filter((k) => k && k.length <= 64)
    .slice(0, 20)
    .forEach((k) => {
      const v = p[k],
        t = typeof v;
      out[k] = v === null || t === "number" || t === "boolean" ? v : cut(v, 256);
    });
  return out;
}

const KNOWN_COOKIES = [
  [/^(_ga|_gid|_gat|_pk_|_hj|cs_vid$)/, "analytics"],
  [/^(_gcl|_fbp|_fbc|IDE$|_uet|_tt)/, "marketing"],
  [/^(lang|locale|theme)$/, "preferences"],
  [/^(session|csrf|XSRF|__Host-|__Secure-|cs_consent$)/i, "necessary"],
];

/**
 * Cookie names present in the page and their categories; values are never read out.
 * `known` maps exact names (or prefixes ending in `*`) to a category and wins over the built-ins.
 */
export function cookieInventory(cookieString, known) {
  const names = String(cookieString || "")
    .split(";")
    .map((c) => c.split("=")[0].trim())
    .filter(Boolean);
  const category = (name) => {
    for (const k in known || {}) {
      if (k === name || (k.endsWith("*") && name.startsWith(k.slice(0, -1)))) return known[k];
    }
    const hit = KNOWN_COOKIES.find(([re]) => re.test(name));
    return hit ? hit[1] : "unknown";
  };
  // Sorted: the browser reorders cookies when one is rewritten, which is no change.
  return [...new Set(names)].sort().slice(0, 100).map((name) => ({ name: cut(name, 256), category: category(name) }));
}

/**
 * The `domain=` attributes a cookie of `host` may have been set with: none (host-only), the
 * host, and every parent domain; expiring a cookie needs the same domain it was set with.
 */
export function cookieDomains(host) {
  const out = [""];
  if (!host || /^[\d.]+$|:/.test(host)) return out;
  const parts = host.split(".");
  for (let i = 0; i < parts.length - 1; i++) out.push("; domain=" + parts.slice(i).join("."));
  return out;
}

/**
 * One event in the collector's Event shape. No visitor id: the collector knows the visitor by
 * its own HttpOnly cookie, which no script on the page can read.
 */
export function buildEvent(env, type, decision, props, now) {
  const { document: d, navigator: n, screen: sc } = env;
  const e = {
    event_id: uuid(env.crypto),
    type: EVENT_TYPES.includes(type) ? type : "custom",
    ts: new Date(now).toISOString(),
    consent_id: (decision && decision.consent_id) || null,
    page: { url: pageUrl(env.location.href), title: cut(d.title, 256), referrer: referrerOrigin(d.referrer) },
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

/** The event as it may leave now: the consent id in force filled in once it is known. */
export function gate(event, decision) {
  if (!decision) return { ...event, consent_id: null };
  return event.consent_id ? event : { ...event, consent_id: decision.consent_id || null };
}

/** FNV-1a (32 bit) over the JSON of `value`: a short, stable fingerprint. */
export function fingerprint(value) {
  const s = JSON.stringify(value);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * A fingerprint of the banner text the visitor saw (language included), recorded with each
 * decision as banner_hash: proof of which wording was agreed to.
 */
export const bannerHash = (strings) => "fnv1a32:" + fingerprint(strings);

/**
 * The POST /v1/consent body. Every decision is posted, a refusal too, under no visitor id: the
 * collector's cookie says who (it mints one on the first analytics grant). `decisionId` makes
 * a retry record nothing twice.
 */
export function consentBody(cfg, choices, source, shown, decisionId) {
  return {
    decision_id: decisionId,
    choices,
    policy_version: cfg.policyVersion || "",
    policy_hash: cfg.policyHash || "",
    banner_hash: cfg.bannerHash || shown,
    source,
  };
}

/** Exponential backoff with jitter (ms) after `attempt` failures; `rand` in [0, 1). */
export function backoff(attempt, rand, base = 1000, max = 60000) {
  const top = Math.min(max, base * 2 ** Math.min(attempt, 16));
  return Math.round(top / 2 + (top / 2) * rand);
}
