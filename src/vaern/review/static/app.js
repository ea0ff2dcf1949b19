// Værn review app: the only script. Safe view (reveal / hide the screenshot) and zoom.
// Everything else works without it; with CSP script-src 'self' nothing inline runs.
(function () {
  "use strict";
  var view = document.getElementById("safeview");
  if (!view) return;
  var button = document.getElementById("reveal");
  var img = document.getElementById("shot");
  var frame = document.getElementById("shot-frame");
  var zoom = 1;

  button.addEventListener("click", function () {
    var shown = view.getAttribute("data-revealed") === "true";
    view.setAttribute("data-revealed", shown ? "false" : "true");
    button.setAttribute("aria-expanded", shown ? "false" : "true");
    button.textContent = button.getAttribute(shown ? "data-show" : "data-hide");
  });

  function apply() {
    // Width relative to the frame: 1 = fit the frame's width; larger scrolls sideways.
    img.style.width = Math.round(zoom * 100) + "%";
    img.style.maxWidth = "none";
  }
  view.querySelectorAll("[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var how = b.getAttribute("data-zoom");
      if (how === "in") zoom = Math.min(4, zoom * 1.5);
      else if (how === "out") zoom = Math.max(0.25, zoom / 1.5);
      else zoom = 1;
      apply();
      frame.focus();
    });
  });
})();
