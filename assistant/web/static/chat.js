/* The chat page. Review text is untrusted: it is only ever inserted as text nodes, never as HTML. */
(function () {
  "use strict";

  var form = document.getElementById("ask-form");
  var input = document.getElementById("question");
  var conversation = document.getElementById("conversation");
  var errorBox = document.getElementById("form-error");
  var askButton = document.getElementById("ask-button");
  var newConversation = document.getElementById("new-conversation");
  var maxChars = parseInt(input.getAttribute("maxlength"), 10) || 2000;
  var HISTORY_TURNS = 4;
  var history = [];
  var turnCount = 0;
  var busy = false;

  var el = window.Assistant.el;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.hidden = true;
    input.removeAttribute("aria-invalid");
  }

  function setBusy(value) {
    busy = value;
    askButton.disabled = value;
    askButton.textContent = value ? "Searching…" : "Ask";
    form.setAttribute("aria-busy", value ? "true" : "false");
  }

  function renderCitation(citation, turn) {
    var item = el("li", { id: "cite-" + turn + "-" + citation.n, class: "citation", tabindex: "-1" });
    window.Assistant.citationBody(citation).forEach(function (node) { item.appendChild(node); });
    return item;
  }

  function renderAnswerText(text, turn) {
    var paragraph = el("p", { class: "answer-text" });
    text.split(/\[(\d+)\]/).forEach(function (part, index) {
      if (index % 2 === 0) {
        if (part) paragraph.appendChild(document.createTextNode(part));
      } else {
        paragraph.appendChild(el("a", { href: "#cite-" + turn + "-" + part, class: "marker",
          "aria-label": "source " + part }, "[" + part + "]"));
      }
    });
    return paragraph;
  }

  function followUpNote(body, question) {
    var earlier = body.follows[body.follows.length - 1];
    var again = el("button", { type: "button", class: "ask-alone" }, "Ask it on its own");
    again.addEventListener("click", function () {
      if (!busy) ask(question, true);
    });
    return el("p", { class: "follows" }, "Read as a follow-up to \u201c", el("span", {}, earlier),
      "\u201d" + (body.follows.length > 1 ? " (and " + (body.follows.length - 1) + " earlier)" : "") + ". ", again);
  }

  function renderAnswer(body, turn, question) {
    var box = el("div", { class: "bubble answer" + (body.found ? "" : " not-found") });
    if (body.follows && body.follows.length) {
      box.appendChild(followUpNote(body, question));
    }
    if (body.searched) {
      box.appendChild(el("p", { class: "searched" }, "Searched for: ", el("span", {}, body.searched)));
    }
    var related = body.coverage === "related";
    if (!body.found) {
      box.appendChild(el("p", { class: "not-found-title" },
        related ? "Not answered directly: related passages only" : "Not covered by these reviews"));
    }
    box.appendChild(renderAnswerText(body.answer, turn));
    if (body.citations.length) {
      box.appendChild(el("h3", { class: "sources-title" }, related ? "Related passages (not an answer)" : "Sources"));
      var list = el("ol", { class: "citations" });
      body.citations.forEach(function (citation) { list.appendChild(renderCitation(citation, turn)); });
      box.appendChild(list);
    }
    return box;
  }

  function errorBubble(message) {
    return el("div", { class: "bubble answer failed", role: "alert" }, message);
  }

  function ask(question, alone) {
    clearError();
    setBusy(true);
    turnCount += 1;
    var turn = turnCount;
    var item = el("li", { class: "turn" },
      el("div", { class: "bubble question" }, el("span", { class: "visually-hidden" }, "You asked: "), question));
    var pending = el("div", { class: "bubble answer pending", role: "status" },
      el("span", { class: "spinner", "aria-hidden": "true" }), "Searching the reviews…");
    item.appendChild(pending);
    conversation.appendChild(item);
    pending.scrollIntoView({ block: "nearest" });

    fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ question: question, history: alone ? [] : history.slice(-HISTORY_TURNS) })
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok || !body) {
          var message = body && body.error ? body.error : "Something went wrong (" + response.status + ").";
          pending.replaceWith(errorBubble("Sorry, that did not work: " + message));
          return;
        }
        var answer = renderAnswer(body, turn, question);
        answer.appendChild(window.Assistant.feedbackBox({
          kind: "answer", question: question, coverage: body.coverage,
          citations: body.citations.map(function (citation) { return citation.chunk_id; }) }));
        answer.setAttribute("aria-live", "polite");
        pending.replaceWith(answer);
        history.push({ question: question, answer: body.answer });
        newConversation.hidden = false;
        input.value = "";
      });
    }).catch(function () {
      pending.replaceWith(errorBubble("Could not reach the assistant. Check your connection and try again."));
    }).then(function () {
      setBusy(false);
      input.focus();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    var question = input.value.trim();
    if (!question) { showError("Type a question first."); return; }
    if (question.length > maxChars) {
      showError("Your question is too long: please keep it under " + maxChars + " characters.");
      return;
    }
    var warning = window.Assistant.personalDataWarning(form, question);
    if (warning) { showError(warning); return; }
    ask(question);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  input.addEventListener("input", function () { if (!errorBox.hidden) clearError(); });

  newConversation.addEventListener("click", function () {
    history = [];
    conversation.textContent = "";
    newConversation.hidden = true;
    input.focus();
  });

  document.querySelectorAll(".example").forEach(function (button) {
    button.addEventListener("click", function () {
      input.value = button.textContent.trim();
      form.requestSubmit();
    });
  });

  conversation.addEventListener("click", function (event) {
    var marker = event.target.closest("a.marker");
    if (!marker) return;
    var target = document.getElementById(marker.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    target.scrollIntoView({ behavior: "smooth", block: "center" });
    target.focus({ preventScroll: true });
  });
})();
