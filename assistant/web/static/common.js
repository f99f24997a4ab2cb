/* Shared by the chat and extracts pages. Review text is untrusted: only ever inserted as text. */
(function () {
  "use strict";

  function el(tag, attributes) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "class") node.className = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === "") continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = el("textarea", { class: "visually-hidden", "aria-hidden": "true" });
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      area.remove();
      if (ok) resolve(); else reject(new Error("copy failed"));
    });
  }

  function copyButton(citation) {
    var button = el("button", { type: "button", class: "link-button copy-reference" }, "Copy reference",
      el("span", { class: "visually-hidden" }, ": " + citation.title));
    var status = el("span", { class: "copy-status", role: "status" });
    button.addEventListener("click", function () {
      copyText(citation.reference).then(function () { status.textContent = "Copied"; },
        function () { status.textContent = "Could not copy: " + citation.reference; });
      setTimeout(function () { status.textContent = ""; }, 4000);
    });
    return [button, status];
  }

  /* The body of a citation: title, reference line, section and page, themes, passage, actions. */
  function citationBody(citation, extraActions) {
    var where = [citation.section, citation.paragraph ? "para " + citation.paragraph : null,
                 citation.page ? "page " + citation.page : null].filter(Boolean).join(" · ");
    var meta = [citation.area, citation.year, citation.review_type].filter(Boolean).join(" · ");
    var actions = el("div", { class: "citation-actions" },
      el("a", { href: citation.url, class: "context-link" }, "Read in context",
        el("span", { class: "visually-hidden" }, ": " + citation.title)));
    copyButton(citation).forEach(function (node) { actions.appendChild(node); });
    (extraActions || []).forEach(function (node) { actions.insertBefore(node, actions.firstChild); });
    var tags = null;
    if (citation.themes && citation.themes.length) {
      tags = el("ul", { class: "tags", "aria-label": "Themes" });
      citation.themes.forEach(function (theme) { tags.appendChild(el("li", { class: "tag" }, theme)); });
    }
    return [
      el("p", { class: "citation-title" }, el("span", { class: "citation-n" }, "[" + citation.n + "]"), " ",
        el("strong", {}, citation.title)),
      el("p", { class: "citation-meta" }, meta),
      where ? el("p", { class: "citation-where" }, where) : null,
      tags,
      el("blockquote", { class: "passage" }, citation.text),
      actions
    ].filter(Boolean);
  }

  function errorText(response, body) {
    return body && body.error ? body.error : "Something went wrong (" + response.status + ").";
  }

  /* The server's personal-data patterns (data-personal-data on the form), applied with the server's rule:
     any strong identifier, or two names, or a name and a date. Returns what was found, for the warning. */
  function identifyingKinds(rules, text) {
    var taken = [];
    rules.patterns.forEach(function (pattern) {
      var expression = new RegExp(pattern.source, pattern.flags);
      var match;
      while ((match = expression.exec(text)) !== null) {
        if (match[0] === "") { expression.lastIndex += 1; continue; }
        var part = match.length > 1 && match[1] !== undefined ? match[1] : match[0];
        var start = match.index + match[0].lastIndexOf(part);
        var end = start + part.length;
        var overlaps = taken.some(function (other) { return start < other.end && other.start < end; });
        if (!overlaps) taken.push({ pattern: pattern, start: start, end: end });
      }
    });
    var names = taken.filter(function (f) { return f.pattern.kind === "name"; }).length;
    var dates = taken.filter(function (f) { return f.pattern.kind === "date" || f.pattern.kind === "date_of_birth"; }).length;
    var warns = taken.some(function (f) { return f.pattern.strong; }) || names >= 2 || (names > 0 && dates > 0);
    var labels = [];
    if (!warns) return labels;
    taken.sort(function (a, b) { return a.start - b.start; }).forEach(function (f) {
      if (labels.indexOf(f.pattern.label) < 0) labels.push(f.pattern.label);
    });
    return labels;
  }

  /* The warning to show before sending `text`, or "" when it does not look like it identifies anyone. */
  function personalDataWarning(form, text) {
    var raw = form.getAttribute("data-personal-data");
    if (!raw) return "";
    var rules = JSON.parse(raw);
    // as the server does: compatibility forms folded, invisible characters dropped, spaces collapsed
    var normalised = text.normalize("NFKC").replace(/(?![\n\t])[\p{Cc}\p{Cf}\p{Cs}]/gu, "")
      .replace(/\s+/g, " ").trim();
    var kinds = identifyingKinds(rules, normalised);
    return kinds.length ? rules.warning + " (It looks like it holds: " + kinds.join(", ") + ".)" : "";
  }

  /* "Was this helpful? Yes / No", then an optional comment; `about` says what is rated. */
  function feedbackBox(about) {
    var box = el("div", { class: "feedback", role: "group", "aria-label": "Feedback" });
    var status = el("p", { class: "feedback-status", role: "status" });
    var yes = el("button", { type: "button", class: "link-button feedback-yes" }, "Yes");
    var no = el("button", { type: "button", class: "link-button feedback-no" }, "No");
    box.appendChild(el("span", { class: "feedback-question" }, about.kind === "answer" ?
      "Was this answer helpful? " : "Were these extracts helpful? "));
    box.appendChild(yes);
    box.appendChild(no);
    box.appendChild(status);

    function send(helpful, comment) {
      var body = { kind: about.kind, helpful: helpful, question: about.question,
                   citations: about.citations.slice(0, 50) };
      if (about.coverage) body.coverage = about.coverage;
      if (comment) body.comment = comment;
      return fetch("/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify(body) })
        .then(function (response) {
          return response.json().catch(function () { return null; }).then(function (json) {
            if (!response.ok) throw new Error(errorText(response, json));
            return json;
          });
        });
    }

    function rated(helpful) {
      yes.disabled = true;
      no.disabled = true;
      send(helpful, "").then(function () {
        status.textContent = "Thank you. Add a comment if you like (please no names or personal details):";
        var comment = el("textarea", { class: "feedback-comment", rows: "2", maxlength: "2000",
                                       "aria-label": "Your comment" });
        var submit = el("button", { type: "button", class: "button button-secondary feedback-send" },
          "Send comment");
        submit.addEventListener("click", function () {
          var text = comment.value.trim();
          if (!text) { status.textContent = "Type a comment first, or leave it: your rating is saved."; return; }
          submit.disabled = true;
          send(helpful, text).then(function () {
            comment.remove(); submit.remove();
            status.textContent = "Thank you for your comment.";
          }, function (error) { submit.disabled = false; status.textContent = "Could not send: " + error.message; });
        });
        box.appendChild(comment);
        box.appendChild(submit);
      }, function (error) {
        yes.disabled = false; no.disabled = false;
        status.textContent = "Could not send your feedback: " + error.message;
      });
    }

    yes.addEventListener("click", function () { rated(true); });
    no.addEventListener("click", function () { rated(false); });
    return box;
  }

  window.Assistant = { el: el, copyText: copyText, citationBody: citationBody, errorText: errorText,
                       personalDataWarning: personalDataWarning, feedbackBox: feedbackBox };
})();
