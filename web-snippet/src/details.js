// The banner's second layer, fetched only when the visitor opens Customize (the first layer's
// byte budget stays for the banner and tracker): per category its services, who runs them, their
// cookies with purpose and retention, a toggle per service, and links to the privacy policy and
// the visitor privacy center. The first layer leaves what it needs on window.__cs2.

import { DESCRIPTIONS } from "./descriptions.js";

const KEY = "cs_services"; // read by the first layer before it runs a gated script

const STRINGS = {
  en: {
    more: "Services and cookies",
    site: "This site",
    kept: "Kept",
    policy: "Privacy policy",
    center: "Your privacy center: choices, history and requests (new tab)",
    none: "No cookies listed.",
  },
  de: {
    more: "Dienste und Cookies",
    site: "Diese Website",
    kept: "Speicherdauer",
    policy: "Datenschutzerkl\u00e4rung",
    center: "Ihr Datenschutz-Center: Auswahl, Verlauf und Anfragen (neuer Tab)",
    none: "Keine Cookies aufgef\u00fchrt.",
  },
};

/** The cookies grouped as category → service → cookies, in the catalogue's order. */
export function group(cookies) {
  const out = {};
  for (const c of cookies) {
    const byService = (out[c.category] = out[c.category] || {});
    (byService[c.service || ""] = byService[c.service || ""] || []).push(c);
  }
  return out;
}

/**
 * The services the visitor switched off, stored as `|name|name|` so the first layer tests a
 * script's data-service with one `includes`.
 */
export const offList = (raw) => String(raw || "").split("|").filter(Boolean);
export const offValue = (names) => (names.length ? "|" + names.join("|") + "|" : null);

function el(doc, tag, props, kids) {
  const e = Object.assign(doc.createElement(tag), props);
  for (const c of kids || []) e.appendChild(typeof c === "string" ? doc.createTextNode(c) : c);
  return e;
}

/** Render the second layer into the open banner `ctx.box` from the catalogue's `cookies`. */
export function render(ctx, cookies) {
  const { box, cfg, lang } = ctx, doc = box.ownerDocument;
  const s = { ...STRINGS.en, ...DESCRIPTIONS.en, ...STRINGS[lang], ...DESCRIPTIONS[lang], ...((cfg.strings || {})[lang] || {}) };
  for (const k of ["necessary", "analytics", "marketing", "preferences"]) {
    const d = doc.getElementById("cs-d-" + k);
    if (d) d.textContent = s[k + "Desc"];
  }
  const off = offList(ctx.store.getItem(KEY));
  const groups = group(cookies);
  const toggles = []; // [service name, category box, service box]
  let n = 0;
  for (const [category, services] of Object.entries(groups)) {
    const catBox = doc.getElementById("cs-c-" + category);
    if (!catBox) continue;
    const list = el(doc, "ul", { className: "cs-svc" });
    for (const [name, items] of Object.entries(services)) {
      const id = "cs-s-" + n++;
      const label = name || s.site;
      const vendor = items[0].vendor ? " (" + items[0].vendor + ")" : "";
      const input = el(doc, "input", { type: "checkbox", id, checked: catBox.checked && !off.includes(name) });
      // Necessary services are always on; the site's own cookies of another category follow
      // their category's box, so they get no toggle of their own.
      if (category === "necessary") Object.assign(input, { checked: true, disabled: true });
      else if (name) toggles.push([name, catBox, input]);
      const cookieList = el(
        doc,
        "ul",
        {},
        items.map((c) => el(doc, "li", {}, [el(doc, "code", { textContent: c.name }), " \u2014 " + (c.purpose || "") + (c.retention ? " " + s.kept + ": " + c.retention + "." : "")])),
      );
      const head = category === "necessary" || name ? el(doc, "label", { htmlFor: id }, [input, label + vendor]) : el(doc, "strong", { textContent: label });
      list.appendChild(el(doc, "li", {}, [head, cookieList]));
    }
    const count = Object.values(services).reduce((a, v) => a + v.length, 0);
    const more = el(doc, "details", { className: "cs-more" }, [el(doc, "summary", { textContent: s.more + " (" + count + ")" }), list]);
    catBox.closest(".cs-row").appendChild(more);
  }
  const links = el(doc, "p", { className: "cs-links" });
  // data-policy-url on the snippet's tag, or policyUrl in window.consentstreamOptions.
  const policy = cfg.policyUrl || (ctx.tag && ctx.tag.getAttribute("data-policy-url"));
  if (policy) links.appendChild(el(doc, "a", { href: policy, textContent: s.policy }));
  links.appendChild(el(doc, "a", { href: ctx.api + "/privacy/", target: "_blank", rel: "noopener", textContent: s.center }));
  doc.getElementById("cs-opts").appendChild(links);
  wire(ctx, toggles);
}

/** Keep categories and services consistent, and store the services switched off on Save. */
function wire(ctx, toggles) {
  for (const [, catBox, input] of toggles) {
    input.addEventListener("change", () => {
      const mine = toggles.filter((x) => x[1] === catBox);
      // A service on needs its category; every service off is the category off.
      catBox.checked = input.checked || mine.some((x) => x[2].checked);
    });
    catBox.addEventListener("change", () => {
      for (const x of toggles) if (x[1] === catBox) x[2].checked = catBox.checked;
    });
  }
  // Capture on the banner runs before the first layer's own click handlers decide.
  ctx.box.addEventListener(
    "click",
    (e) => {
      const b = e.target;
      const all = ctx.box.querySelectorAll(".cs-b");
      if (b === all[all.length - 1]) {
        const off = toggles.filter(([, catBox, input]) => catBox.checked && !input.checked).map((x) => x[0]);
        const v = offValue(off);
        v ? ctx.store.setItem(KEY, v) : ctx.store.removeItem(KEY);
      } else if (b === all[0]) {
        ctx.store.removeItem(KEY); // Accept all: every service
        for (const x of toggles) x[2].checked = true;
      }
    },
    true,
  );
}

/** Fetch the catalogue and render; the links alone when it cannot be read. */
export function start(w) {
  const ctx = w.__cs2;
  if (!ctx || ctx.box.querySelector(".cs-links")) return;
  const doc = ctx.box.ownerDocument;
  doc.head.appendChild(Object.assign(doc.createElement("link"), { rel: "stylesheet", href: ctx.cfg.detailsCss || ctx.api + "/snippet-details.css" }));
  return w
    .fetch(ctx.api + "/snippet/cookies.json")
    .then((r) => r.json())
    .then((b) => b.cookies)
    .catch(() => [])
    .then((cookies) => render(ctx, cookies));
}

if (typeof window !== "undefined") start(window);
