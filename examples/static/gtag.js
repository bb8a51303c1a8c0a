// A local stand-in for Google's gtag.js (the example makes no request off the machine).
// Like the real library it reads the data layer in order, so it sees the Consent Mode
// default and any update, and it sets its cookie only while analytics_storage is granted.
(function () {
  "use strict";
  var layer = (window.dataLayer = window.dataLayer || []);
  var consent = {};
  var tag = (window.exampleGoogleTag = { loaded: true, consent: consent, commands: [] });

  function handle(entry) {
    var args = Array.prototype.slice.call(entry);
    tag.commands.push(args[0] + (args[1] && typeof args[1] === "string" ? " " + args[1] : ""));
    if (args[0] === "consent" && args[2]) {
      for (var key in args[2]) if (key !== "region" && key !== "wait_for_update") consent[key] = args[2][key];
    }
    if (consent.analytics_storage === "granted" && document.cookie.indexOf("_ga=") < 0) {
      document.cookie = "_ga=GA1.1." + Math.floor(Math.random() * 1e9) + "; path=/; max-age=" + 60 * 60 * 24 * 30 + "; samesite=lax";
    }
  }

  layer.forEach(handle);
  var push = layer.push;
  layer.push = function () {
    for (var i = 0; i < arguments.length; i++) handle(arguments[i]);
    return push.apply(layer, arguments);
  };
  window.gtag("js", new Date());
  window.gtag("config", "G-EXAMPLE");
})();
