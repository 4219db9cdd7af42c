// The banner: DOM calls only (no innerHTML, no inline styles), built once. A non-modal dialog with Accept all,
// Reject all and Customize styled alike; "Privacy settings" (and any [data-cs-open]) reopens it.
import { CATEGORIES } from "./core.js";

function el(doc, tag, props, kids) {
  const e = doc.createElement(tag);
  for (const k in props) k.includes("-") || k === "role" ? e.setAttribute(k, props[k]) : (e[k] = props[k]);
  for (const c of kids || []) e.appendChild(typeof c === "string" ? doc.createTextNode(c) : c);
  return e;
}

/**
 * Build the banner into `doc`. `t` are the strings, `on.decide(choices)` records a decision,
 * `current()` the choices in force (or null), `gpc()` whether GPC is on.
 */
export function createBanner(doc, t, on) {
  const button = (text, onclick, className = "cs-b") => {
    const b = el(doc, "button", { type: "button", className, textContent: text });
    b.addEventListener("click", onclick);
    return b;
  };
  // A stylesheet, not a <style>: a strict Content-Security-Policy needs no 'unsafe-inline'.
  if (on.css) doc.head.appendChild(el(doc, "link", { rel: "stylesheet", id: "cs-style", href: on.css }));
  const boxes = CATEGORIES.map((name) => el(doc, "input", { type: "checkbox", name, id: "cs-c-" + name, "aria-describedby": "cs-d-" + name }));
  // The description sits beside the label, not in it: inside, it would be read as part of the
  // name and again as the description. The second layer fills it in.
  const row = (name, input) =>
    el(doc, "div", { className: "cs-row" }, [el(doc, "label", { htmlFor: input.id }, [input, t[name]]), el(doc, "small", { id: "cs-d-" + name })]);
  const necessary = el(doc, "input", { type: "checkbox", checked: true, disabled: true, id: "cs-c-necessary", "aria-describedby": "cs-d-necessary" });
  const opts = el(doc, "fieldset", { id: "cs-opts", hidden: true }, [
    el(doc, "legend", { textContent: t.legend }),
    row("necessary", necessary),
    ...boxes.map((b) => row(b.name, b)),
  ]);
  const gpcNote = el(doc, "p", { id: "cs-gpc", textContent: t.gpc, hidden: true });
  const all = () => Object.fromEntries(CATEGORIES.map((k) => [k, true]));
  const save = button(t.save, () => on.decide(Object.fromEntries(boxes.map((b) => [b.name, b.checked]))));
  save.hidden = true;
  const box = el(doc, "div", { id: "cs-banner", role: "dialog", "aria-modal": "true", "aria-labelledby": "cs-title", "aria-describedby": "cs-desc", lang: t.lang, tabIndex: -1, hidden: true }, [
    el(doc, "h2", { id: "cs-title", textContent: t.title }),
    el(doc, "p", { id: "cs-desc", textContent: t.desc }),
    gpcNote,
    opts,
    el(doc, "div", {}, [button(t.accept, () => on.decide(all())), button(t.reject, () => on.decide({})), button(t.customize, customize), save]),
  ]);
  let returnTo = null;
  const opener = button(t.settings, () => open(opener), "");
  opener.id = "cs-open";
  opener.setAttribute("aria-haspopup", "dialog");

  /** Show the categories, ticked as in force; a second click keeps what the visitor ticked. */
  function customize() {
    const c = on.current(), g = on.gpc();
    for (const b of boxes) {
      b.disabled = g && b.name === "marketing";
      if (!opts.hidden) continue;
      b.checked = !!(c && c[b.name]) && !b.disabled;
    }
    opts.hidden = save.hidden = false;
    boxes[0].focus();
    on.more && on.more(box); // the second layer: services and cookies, fetched now
  }
  const shown = (e) => {
    for (let x = e; x && x !== box; x = x.parentNode) if (x.hidden) return false;
    return !e.disabled;
  };
  /** Tab and Shift+Tab cycle inside the open dialog. */
  function trap(e) {
    // Every stop, the second layer's summaries and links too, once it has loaded.
    const stops = [...box.querySelectorAll("input,summary,a,button")].filter(shown), first = stops[0], last = stops[stops.length - 1];
    const at = doc.activeElement;
    if (e.shiftKey && (at === first || at === box)) e.preventDefault(), last.focus();
    else if (!e.shiftKey && at === last) e.preventDefault(), first.focus();
  }
  /** Show the banner and move focus to it (not to a button: no choice is pre-selected). */
  function open(from) {
    returnTo = from || null;
    gpcNote.hidden = !on.gpc();
    box.hidden = false;
    opts.hidden = save.hidden = opener.hidden = true; // the banner covers its corner anyway
    box.focus({ preventScroll: true }); // before its sheet applies it sits at the page's end
  }
  function close() {
    if (box.hidden) return;
    box.hidden = true;
    opener.hidden = false;
    (returnTo && returnTo.isConnected !== false ? returnTo : opener).focus();
  }
  box.addEventListener("keydown", (e) => (e.key === "Tab" ? trap(e) : e.key === "Escape" && on.current() && close()));
  doc.addEventListener("click", (e) => {
    const link = e.target && e.target.closest && e.target.closest("[data-cs-open]");
    if (link) e.preventDefault(), open(link);
  });
  doc.body.appendChild(box);
  doc.body.appendChild(opener);
  return { open, close, isOpen: () => !box.hidden };
}
