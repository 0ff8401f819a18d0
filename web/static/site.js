// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  function ready() {
    // "复制引用": copy the quotation with its document, section and number.
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        copyText(source.value).then(function () {
          button.textContent = "已复制";
          button.classList.add("copied");
          setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
        }, function () {
          // No clipboard here: show the text, selected, to copy by hand.
          var details = source.closest("details");
          if (details) { details.classList.add("shown"); details.open = true; }
          source.focus();
          source.select();
        });
      });
    });

    document.querySelectorAll("form[data-feedback]").forEach(sendFeedbackInPlace);

    centerCitedSpan();
  }

  // 有用/没用: send the form as JSON and thank in place, instead of leaving the page.
  function sendFeedbackInPlace(form) {
    var status = form.querySelector(".feedback-status");
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !window.fetch || !window.JSON) { return; }
      event.preventDefault();
      var body = {
        answer_id: form.elements.answer_id.value || null,
        question: form.elements.question.value,
        answer: form.elements.answer.value,
        useful: button.value === "1",
        comment: form.elements.comment.value
      };
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      fetch("/api/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        if (result.ok) {
          form.classList.add("sent");
          status.classList.remove("failed");
          status.textContent = result.data.message || "感谢您的反馈。";
        } else {
          throw new Error(result.data && result.data.detail ? result.data.detail : "");
        }
      }).catch(function (error) {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
        status.classList.add("failed");
        status.textContent = error && error.message ? error.message : "反馈没有发送成功，请稍后再试。";
      });
    });
  }

  // The document view: bring the cited span into the middle of the screen (the #anchor
  // alone puts it at the very top, or nowhere when the link had no anchor).
  function centerCitedSpan() {
    var target = location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (!target) { target = document.querySelector("mark.cited[id]"); }
    if (target && target.tagName === "MARK") {
      target.scrollIntoView({ block: "center" });
    }
  }
  window.addEventListener("load", centerCitedSpan);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
