/* Admin page: upload and remove reviews with the admin token. Messages are set as text, never HTML. */
(function () {
  "use strict";
  var form = document.getElementById("admin-form");
  var token = document.getElementById("token");
  var file = document.getElementById("file");
  var status = document.getElementById("admin-status");
  token.value = sessionStorage.getItem("assistant-admin-token") || "";
  token.addEventListener("change", function () { sessionStorage.setItem("assistant-admin-token", token.value); });

  function say(message, failed) {
    status.textContent = message;
    status.className = "status-message" + (failed ? " error-message" : "");
  }

  function summary(report) {
    var parts = [];
    if (report.added.length) parts.push("added " + report.added.join(", "));
    if (report.replaced.length) parts.push("replaced " + report.replaced.join(", "));
    if (report.removed.length) parts.push("removed " + report.removed.join(", "));
    report.skipped.forEach(function (item) { parts.push("skipped " + item.file + ": " + item.reason); });
    (report.warnings || []).forEach(function (item) { parts.push("warning " + item.file + ": " + item.warning); });
    if (!parts.length) parts.push("nothing changed");
    return parts.join("; ") + ". The index now holds " + report.documents + " reviews.";
  }

  function send(method, url, body) {
    return fetch(url, { method: method, body: body, headers: { "Authorization": "Bearer " + token.value } })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (!response.ok) throw new Error(json.error || ("request failed (" + response.status + ")"));
          return json;
        });
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!token.value) { say("Enter the admin token first.", true); token.focus(); return; }
    if (!file.files.length) { say("Choose a file to upload.", true); file.focus(); return; }
    var data = new FormData();
    data.append("file", file.files[0]);
    say("Uploading and indexing…", false);
    send("POST", "/api/admin/documents", data)
      .then(function (report) { say(summary(report), false); setTimeout(function () { location.reload(); }, 1500); })
      .catch(function (error) { say(error.message, true); });
  });

  document.querySelectorAll("button.remove").forEach(function (button) {
    button.addEventListener("click", function () {
      var docId = button.getAttribute("data-doc-id");
      if (!token.value) { say("Enter the admin token first.", true); token.focus(); return; }
      if (!window.confirm("Remove " + docId + " from the index? Its file is kept in corpus/.removed/.")) return;
      say("Removing…", false);
      send("DELETE", "/api/admin/documents/" + encodeURIComponent(docId))
        .then(function (report) { say(summary(report), false); button.closest("li").remove(); })
        .catch(function (error) { say(error.message, true); });
    });
  });
})();
