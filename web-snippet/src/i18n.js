// Banner strings; the category descriptions come with the second layer (src/descriptions.js).
// English and German ship; a site overrides or adds languages with `strings: {xx: {...}}` in
// its config and picks one with `lang` (else <html lang>).

const en = {
  title: "Your privacy choices",
  desc:
    "Necessary cookies run this site. With your permission we also measure visits (analytics), " +
    "tailor offers (marketing) and remember settings (preferences). Change or withdraw your " +
    "choice at any time under \u201cPrivacy settings\u201d.",
  accept: "Accept all",
  reject: "Reject all",
  customize: "Customize",
  save: "Save choices",
  settings: "Privacy settings",
  legend: "Categories",
  gpc: "Your browser sends Global Privacy Control, so marketing stays off.",
  necessary: "Necessary",
  analytics: "Analytics",
  marketing: "Marketing",
  preferences: "Preferences",
};

const de = {
  title: "Ihre Datenschutz-Einstellungen",
  desc:
    "Notwendige Cookies betreiben diese Website. Mit Ihrer Einwilligung messen wir au\u00dferdem " +
    "Besuche (Statistik), passen Angebote an (Marketing) und merken uns Einstellungen " +
    "(Pr\u00e4ferenzen). Wahl jederzeit unter \u201eDatenschutz-Einstellungen\u201c \u00e4ndern oder widerrufen.",
  accept: "Alle akzeptieren",
  reject: "Alle ablehnen",
  customize: "Anpassen",
  save: "Auswahl speichern",
  settings: "Datenschutz-Einstellungen",
  legend: "Kategorien",
  gpc: "Ihr Browser sendet Global Privacy Control, daher bleibt Marketing aus.",
  necessary: "Notwendig",
  analytics: "Statistik",
  marketing: "Marketing",
  preferences: "Pr\u00e4ferenzen",
};

export const STRINGS = { en, de };

/** The strings for `lang` (config first, then the page's language), English as the fallback. */
export function pickStrings(lang, overrides) {
  const code = String(lang || "en").toLowerCase().split("-")[0];
  const extra = (overrides || {})[code] || {};
  return { ...en, ...(STRINGS[code] || {}), ...extra, lang: STRINGS[code] || extra.title ? code : "en" };
}
