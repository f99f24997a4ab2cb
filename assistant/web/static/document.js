/* Source viewer: move keyboard and screen-reader focus to the passage a citation pointed at. */
(function () {
  "use strict";
  function focusTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!/^chunk-\d+$/.test(id)) return;
    var target = document.getElementById(id);
    if (!target) return;
    target.classList.add("is-cited");
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", function () {
    document.querySelectorAll(".chunk.is-cited").forEach(function (node) { node.classList.remove("is-cited"); });
    focusTarget();
  });
  focusTarget();
})();
