/* Admin page: upload and remove reviews, read feedback, insight and the audit trail, with the admin token
   (or the admin's own sign-in). Everything shown is set as text, never HTML. */
(function () {
  "use strict";
  var el = window.Assistant.el;
  var form = document.getElementById("admin-form");
  var token = document.getElementById("token");  // absent when signed in as an admin
  var file = document.getElementById("file");
  var status = document.getElementById("admin-status");
  var documents = document.getElementById("admin-documents");
  if (token) {
    token.value = sessionStorage.getItem("assistant-admin-token") || "";
    token.addEventListener("change", function () { sessionStorage.setItem("assistant-admin-token", token.value); });
  }

  function say(message, failed) {
    status.textContent = message;
    status.className = "status-message" + (failed ? " error-message" : "");
  }

  function haveToken() {
    if (!token || token.value) return true;
    say("Enter the admin token first.", true);
    token.focus();
    return false;
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

  function request(method, url, body) {
    var headers = token ? { "Authorization": "Bearer " + token.value } : {};
    return fetch(url, { method: method, body: body, headers: headers }).then(function (response) {
      if (response.ok && (response.headers.get("content-type") || "").indexOf("text/csv") === 0) {
        return response.blob();
      }
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) throw new Error(json.error || ("request failed (" + response.status + ")"));
        return json;
      });
    });
  }

  function fillTable(id, rows, cells) {
    var body = document.querySelector("#" + id + " tbody");
    body.textContent = "";
    if (!rows.length) {
      body.appendChild(el("tr", {}, el("td", { colspan: String(cells(null).length) }, "Nothing yet.")));
      return;
    }
    rows.forEach(function (row) {
      var tr = el("tr", {});
      cells(row).forEach(function (value) { tr.appendChild(el("td", {}, value === null ? "" : String(value))); });
      body.appendChild(tr);
    });
  }

  function when(iso) { return iso ? iso.slice(0, 16).replace("T", " ") : ""; }

  function renderDocuments(list) {
    documents.textContent = "";
    list.forEach(function (doc) {
      var access = doc.access === null ? "public" : (doc.access.length ? "restricted to " + doc.access.join(", ")
                                                                        : "restricted to admins");
      var remove = el("button", { type: "button", class: "button button-secondary remove" }, "Remove",
        el("span", { class: "visually-hidden" }, " " + doc.title));
      remove.addEventListener("click", function () {
        if (!haveToken()) return;
        if (!window.confirm("Remove " + doc.doc_id + " from the index? Its file is kept in corpus/.removed/.")) return;
        say("Removing…", false);
        request("DELETE", "/api/admin/documents/" + encodeURIComponent(doc.doc_id))
          .then(function (report) { say(summary(report), false); load(); })
          .catch(function (error) { say(error.message, true); });
      });
      documents.appendChild(el("li", { class: "review-card" },
        el("h3", { class: "review-card-title" }, el("a", { href: "/documents/" + doc.doc_id }, doc.title)),
        el("p", { class: "review-card-meta" },
          [doc.area, doc.year, doc.review_type].filter(Boolean).concat([doc.chunks + " passages", access]).join(" · ")),
        remove));
    });
  }

  function load() {
    if (!haveToken()) return;
    Promise.all([request("GET", "/api/admin/documents"), request("GET", "/api/admin/feedback"),
                 request("GET", "/api/admin/insight"), request("GET", "/api/admin/audit")])
      .then(function (all) {
        renderDocuments(all[0].documents);
        fillTable("feedback-table", all[1].feedback, function (f) {
          return f ? [when(f.created_at), f.kind, f.helpful ? "yes" : "no", f.question, f.comment || "",
                      f.citations.join(", ")] : [1, 2, 3, 4, 5, 6];
        });
        fillTable("themes-table", all[2].by_theme_and_month, function (r) {
          return r ? [r.month, r.theme, r.questions, r.not_covered] : [1, 2, 3, 4];
        });
        fillTable("gaps-table", all[2].gaps, function (r) {
          return r ? [r.question, r.times, when(r.last_asked)] : [1, 2, 3];
        });
        fillTable("audit-table", all[3].audit, function (r) {
          return r ? [when(r.created_at), r.actor, r.address, r.action, r.target] : [1, 2, 3, 4, 5];
        });
        say("", false);
      })
      .catch(function (error) { say(error.message, true); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!haveToken()) return;
    if (!file.files.length) { say("Choose a file to upload.", true); file.focus(); return; }
    var data = new FormData();
    data.append("file", file.files[0]);
    var access = document.getElementById("access").value.trim();
    if (access) data.append("access", access);
    say("Uploading and indexing…", false);
    request("POST", "/api/admin/documents", data)
      .then(function (report) { say(summary(report), false); load(); })
      .catch(function (error) { say(error.message, true); });
  });

  document.getElementById("load-button").addEventListener("click", load);
  document.getElementById("csv-button").addEventListener("click", function () {
    if (!haveToken()) return;
    request("GET", "/api/admin/insight.csv").then(function (blob) {
      var link = el("a", { href: URL.createObjectURL(blob), download: "questions.csv" });
      document.body.appendChild(link);
      link.click();
      link.remove();
    }).catch(function (error) { say(error.message, true); });
  });
  if (!token || token.value) load();
})();
