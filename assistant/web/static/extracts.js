/* The extracts page: search with filters, collect passages (kept in localStorage), reorder, export. */
(function () {
  "use strict";
  var A = window.Assistant;
  var el = A.el;
  var STORE = "assistant-extract-collection";
  var form = document.getElementById("extract-search");
  var fields = ["q", "theme", "area", "type", "year_from", "year_to"];
  var results = document.getElementById("results");
  var resultsStatus = document.getElementById("results-status");
  var searchError = document.getElementById("search-error");
  var collectionList = document.getElementById("collection");
  var collectionCount = document.getElementById("collection-count");
  var exportStatus = document.getElementById("export-status");
  var overview = document.getElementById("theme-overview");

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORE) || "[]");
      return Array.isArray(saved) ? saved.filter(function (item) { return item && item.chunk_id; }) : [];
    } catch (error) { return []; }
  }
  var collection = load();

  function save() {
    localStorage.setItem(STORE, JSON.stringify(collection));
    renderCollection();
    refreshAddButtons();
  }

  function inCollection(chunkId) {
    return collection.some(function (item) { return item.chunk_id === chunkId; });
  }

  function move(index, step) {
    var target = index + step;
    if (target < 0 || target >= collection.length) return;
    var item = collection.splice(index, 1)[0];
    collection.splice(target, 0, item);
    save();
    var buttons = collectionList.children[target].querySelectorAll("button");
    (step < 0 ? buttons[0] : buttons[1]).focus();
  }

  function renderCollection() {
    collectionList.textContent = "";
    collectionCount.textContent = String(collection.length);
    collection.forEach(function (item, index) {
      var where = [item.area, item.year, item.section].filter(Boolean).join(" · ");
      collectionList.appendChild(el("li", { class: "collected" },
        el("p", { class: "citation-title" }, el("strong", {}, item.title)),
        el("p", { class: "citation-meta" }, where),
        el("p", { class: "collected-text" }, item.text.length > 220 ? item.text.slice(0, 220) + "…" : item.text),
        el("div", { class: "collected-actions" },
          button("Up", "Move up: " + item.title, function () { move(index, -1); }, index === 0),
          button("Down", "Move down: " + item.title, function () { move(index, 1); }, index === collection.length - 1),
          button("Remove", "Remove: " + item.title, function () {
            collection.splice(index, 1);
            save();
            exportStatus.textContent = "Removed from the collection.";
          }))));
    });
    if (!collection.length) collectionList.appendChild(el("li", { class: "hint" }, "Nothing collected yet."));
  }

  function button(text, label, handler, disabled) {
    var node = el("button", { type: "button", class: "link-button", "aria-label": label }, text);
    if (disabled) node.disabled = true;
    node.addEventListener("click", handler);
    return node;
  }

  function refreshAddButtons() {
    results.querySelectorAll("button.add-extract").forEach(function (node) {
      var added = inCollection(node.getAttribute("data-chunk-id"));
      node.textContent = added ? "In your collection" : "Add to collection";
      node.disabled = added;
    });
  }

  function renderResults(list) {
    results.textContent = "";
    list.forEach(function (citation) {
      var add = el("button", { type: "button", class: "button button-small add-extract",
        "data-chunk-id": citation.chunk_id }, "Add to collection");
      add.addEventListener("click", function () {
        if (inCollection(citation.chunk_id)) return;
        collection.push({ chunk_id: citation.chunk_id, title: citation.title, area: citation.area,
          year: citation.year, review_type: citation.review_type, section: citation.section,
          page: citation.page, text: citation.text, url: citation.url, reference: citation.reference });
        save();
        exportStatus.textContent = "Added to your collection.";
      });
      var item = el("li", { class: "citation" });
      A.citationBody(citation, [add]).forEach(function (node) { item.appendChild(node); });
      results.appendChild(item);
    });
    refreshAddButtons();
  }

  function params() {
    var query = new URLSearchParams();
    fields.forEach(function (name) {
      var value = document.getElementById(name).value.trim();
      if (value) query.set(name, value);
    });
    return query;
  }

  function showOverview(themeId) {
    if (!themeId) { overview.hidden = true; overview.textContent = ""; return; }
    fetch("/api/themes/" + encodeURIComponent(themeId)).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        overview.textContent = "";
        overview.appendChild(el("h2", {}, body.label));
        overview.appendChild(el("p", { class: "theme-summary" }, body.summary));
        var list = el("ul", { class: "theme-reviews" });
        body.documents.forEach(function (doc) {
          list.appendChild(el("li", {}, el("a", { href: "/documents/" + doc.doc_id }, doc.title),
            " — " + [doc.area, doc.year].filter(Boolean).join(", ") + ": " + doc.chunks + " of " +
            doc.total_chunks + " passages"));
        });
        overview.appendChild(list);
        overview.hidden = false;
      });
  }

  function search() {
    var query = params();
    searchError.hidden = true;
    if (!query.get("q") && !query.get("theme")) {
      searchError.textContent = "Type some words or choose a theme.";
      searchError.hidden = false;
      document.getElementById("q").focus();
      return;
    }
    var warning = A.personalDataWarning(form, query.get("q") || "");
    if (warning) {
      searchError.textContent = warning;
      searchError.hidden = false;
      document.getElementById("q").focus();
      return;
    }
    query.set("k", "20");
    history.replaceState(null, "", "/extracts?" + params().toString());
    resultsStatus.textContent = "Searching…";
    showOverview(query.get("theme"));
    fetch("/api/search?" + query.toString()).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok || !body) {
          resultsStatus.textContent = "";
          searchError.textContent = A.errorText(response, body);
          searchError.hidden = false;
          return;
        }
        renderResults(body.results);
        var previous = document.getElementById("results-feedback");
        if (previous) previous.remove();
        if (body.results.length) {
          var feedback = A.feedbackBox({ kind: "extract", question: query.get("q") || query.get("theme"),
            citations: body.results.map(function (r) { return r.chunk_id; }) });
          feedback.id = "results-feedback";
          results.after(feedback);
        }
        var reviews = new Set(body.results.map(function (r) { return r.doc_id; })).size;
        resultsStatus.textContent = body.results.length ? body.results.length + " passages from " + reviews +
          " reviews." : "No passages match. Try fewer filters.";
      });
    }).catch(function () { resultsStatus.textContent = "Could not reach the assistant."; });
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); search(); });

  document.querySelectorAll(".export-buttons button").forEach(function (node) {
    node.addEventListener("click", function () {
      if (!collection.length) { exportStatus.textContent = "Collect some extracts first."; return; }
      var format = node.getAttribute("data-format");
      exportStatus.textContent = "Preparing the download…";
      fetch("/api/export", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ chunk_ids: collection.map(function (i) { return i.chunk_id; }), format: format }) })
        .then(function (response) {
          if (!response.ok) {
            return response.json().catch(function () { return null; }).then(function (body) {
              throw new Error(A.errorText(response, body));
            });
          }
          var disposition = response.headers.get("Content-Disposition") || "";
          var match = /filename="([^"]+)"/.exec(disposition);
          return response.blob().then(function (blob) {
            var link = el("a", { href: URL.createObjectURL(blob), download: match ? match[1] : "extracts." + format });
            document.body.appendChild(link);
            link.click();
            setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
            exportStatus.textContent = "Downloaded " + (match ? match[1] : "the extracts") + ".";
          });
        }).catch(function (error) { exportStatus.textContent = "Export failed: " + error.message; });
    });
  });

  document.getElementById("clear-collection").addEventListener("click", function () {
    if (!collection.length || !window.confirm("Empty your collection?")) return;
    collection = [];
    save();
  });

  var initial = new URLSearchParams(window.location.search);
  fields.forEach(function (name) {
    if (initial.get(name)) document.getElementById(name).value = initial.get(name);
  });
  renderCollection();
  if (initial.get("q") || initial.get("theme")) search();
})();
