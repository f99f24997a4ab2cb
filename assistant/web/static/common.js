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

  window.Assistant = { el: el, copyText: copyText, citationBody: citationBody, errorText: errorText };
})();
