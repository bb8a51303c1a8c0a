/* asgi-consent: Google Consent Mode v2. Runs before any Google tag: the defaults, the
   stored choice, then one update with all seven types on every change. */
(() => {
  "use strict";
  const d = document;
  const data = d.getElementById("consent-gcm");
  if (!data) return;
  const cfg = JSON.parse(data.textContent);
  const layer = (window.dataLayer = window.dataLayer || []);
  // Google's tags read Arguments objects from the data layer, as their own snippet pushes.
  window.gtag = window.gtag || function gtag() { layer.push(arguments); };
  // GPC seen only by the page (no header reached the server): the ad types stay denied.
  const gpc = navigator.globalPrivacyControl === true;
  const noAds = (values) => {
    if (gpc) for (const type of cfg.ads) if (type in values) values[type] = "denied";
    return values;
  };
  for (const values of cfg.default) window.gtag("consent", "default", noAds(values));
  if (cfg.update) window.gtag("consent", "update", noAds(cfg.update));

  d.addEventListener("consent:change", ({ detail: state }) => {
    const on = new Set(cfg.always);
    // A granted category's types, and an allowed service's (one allowed alone, too).
    for (const id of [...state.granted, ...(state.services || [])]) {
      for (const type of cfg.types[id] || []) on.add(type);
    }
    if (state.gpc || gpc) for (const type of cfg.ads) on.delete(type);
    const values = {};
    for (const type of cfg.all) values[type] = on.has(type) ? "granted" : "denied";
    window.gtag("consent", "update", values);
  });
})();
