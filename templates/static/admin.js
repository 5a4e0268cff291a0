// Small enhancements of the admin pages; every page works without them.
(function () {
  "use strict";
  // An item's regions: ticking a region selects »diese Regionen«.
  document.querySelectorAll("[data-region-choice]").forEach(function (box) {
    var radio = box.querySelector("input[type=radio][value=regions]");
    box.querySelectorAll("input[type=checkbox][name=region]").forEach(function (check) {
      check.addEventListener("change", function () { if (radio) { radio.checked = true; } });
    });
  });
  // Send progress: reload only the progress fragment, not the whole recipient table.
  var progress = document.querySelector("[data-progress-url]");
  if (progress) {
    var meta = document.querySelector("meta[http-equiv=refresh]");
    if (meta) { meta.parentNode.removeChild(meta); }
    var tick = function () {
      fetch(progress.getAttribute("data-progress-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          progress.innerHTML = html;
          var done = progress.querySelector("[data-done]");
          if (done) { window.location.reload(); } else { window.setTimeout(tick, 1500); }
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    };
    window.setTimeout(tick, 1500);
  }
})();
