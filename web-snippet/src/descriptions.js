// The category descriptions, shown once the second layer has loaded (Customize): kept out of
// the first layer, whose byte budget is full. A site overrides them with
// `strings: {xx: {analyticsDesc: "…"}}` like the banner's other strings.

export const DESCRIPTIONS = {
  en: {
    necessaryDesc: "Needed for the site to work and to remember this choice. Always on.",
    analyticsDesc: "Count visits and see how the site is used, under a pseudonymous visitor id.",
    marketingDesc: "Measure campaigns and show relevant offers.",
    preferencesDesc: "Remember settings such as your language.",
  },
  de: {
    necessaryDesc: "F\u00fcr den Betrieb der Website und zum Speichern dieser Wahl n\u00f6tig. Immer aktiv.",
    analyticsDesc: "Besuche z\u00e4hlen und verstehen, wie die Website genutzt wird (pseudonyme Besucher-ID).",
    marketingDesc: "Kampagnen messen und passende Angebote zeigen.",
    preferencesDesc: "Einstellungen wie Ihre Sprache merken.",
  },
};
