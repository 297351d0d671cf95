// While a job runs (an export, or an announcement being sent), ask the server how far it got
// every two seconds and say so in the page's status region, in the server's own words; when
// it is done, load the page again (an export's download). Without this script the page's
// "Check again" link does the same.
(function () {
  "use strict";
  var job = document.getElementById("job");
  var status = document.getElementById("job-status");
  if (!job || !status || !window.fetch) { return; }

  function say(message) {
    var p = document.createElement("p");
    p.textContent = message;
    status.replaceChildren(p);
  }

  function poll() {
    fetch(job.getAttribute("data-progress-url"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.error && !state.state) { say(state.error); return; }
        if (state.state === "done" || state.state === "failed") {
          window.location.reload();
          return;
        }
        say(state.summary);
        window.setTimeout(poll, 2000);
      })
      .catch(function () { say("Could not ask how far the job got; use Check again."); });
  }

  window.setTimeout(poll, 1000);
}());
