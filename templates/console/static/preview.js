// Live preview of the compose form: as the organiser types, the email is rendered by the
// server (the same code that sends it) and shown in a sandboxed frame. Without this script
// the form's Preview button does the same with a full page.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var frame = document.getElementById("preview-frame");
  if (!form || !frame || !window.fetch) { return; }
  var status = document.getElementById("preview-status");
  var subject = document.getElementById("preview-subject");
  var text = document.getElementById("preview-text");
  var timer = null;
  var latest = 0;

  function say(message) {
    var p = document.createElement("p");
    p.textContent = message;
    status.replaceChildren(p);
  }

  function refresh() {
    var data = new URLSearchParams(new FormData(form));
    data.delete("action");
    var ticket = ++latest;
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST", credentials: "same-origin", body: data,
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (response) { return response.json(); }).then(function (answer) {
      if (ticket !== latest) { return; }
      if (answer.error) { say(answer.error); return; }
      frame.srcdoc = answer.html;
      subject.textContent = answer.subject;
      text.textContent = answer.text;
      say("Reaches about " + answer.recipients + " people now (" + answer.audience +
          "). Shown as " + answer.shown_as + ".");
    }).catch(function () { say("The preview could not be updated; press Preview."); });
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
  form.addEventListener("change", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 100);
  });
}());
