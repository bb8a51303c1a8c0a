// A local stand-in for a statistics tag: it runs only after "analytics" is allowed.
(function () {
  "use strict";
  var id = Math.random().toString(36).slice(2);
  document.cookie = "_pk_id.1=" + id + "; path=/; max-age=" + 60 * 60 * 24 * 30 + "; samesite=lax";
  window.exampleAnalytics = { loaded: true, visitor: id };
  document.documentElement.setAttribute("data-analytics-loaded", "true");
})();
