// Colours and lengths the server computes (a team's colour, a heat cell's shade, a bar's
// width) come as data attributes and are painted here through the CSSOM: the pages'
// Content-Security-Policy refuses style attributes, not styles set by our own script.
(function () {
  "use strict";
  function paint(root) {
    root.querySelectorAll("[data-paint]").forEach(function (el) {
      el.style.background = el.dataset.paint;
    });
    root.querySelectorAll("[data-width]").forEach(function (el) {
      var width = parseFloat(el.dataset.width);
      if (isFinite(width)) { el.style.width = Math.max(0, Math.min(100, width)) + "%"; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { paint(document); });
  document.addEventListener("htmx:afterSwap", function (e) { paint(e.target); });
})();
