// vwire console: the live stream, the dialog, the CSRF header. Everything
// else is htmx attributes in the server's HTML.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="vw-csrf"]');

  // Every htmx request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf.content;
  });

  // The dialog: opened when htmx puts a form into it, closed by Cancel,
  // Escape, or the server's vw-close-dialog trigger once a change is done.
  function dialog() { return document.getElementById("dlg"); }
  document.addEventListener("htmx:afterSwap", function (e) {
    var d = dialog();
    if (d && e.detail.target && e.detail.target.id === "dlg-body") {
      if (!d.open) d.showModal();
      // A refusal is the first thing to read: bring it into view.
      var refusal = d.querySelector(".result.refused");
      if (refusal) refusal.scrollIntoView({block: "nearest"});
      var first = d.querySelector("[autofocus], input:not([type=hidden]):not([readonly]), select, button");
      if (first && !d.contains(document.activeElement)) first.focus();
    }
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-close]")) {
      var d = dialog();
      if (d) d.close();
    }
  });
  // A closed dialog keeps no stale form (its ids would shadow the next).
  var dlg = dialog();
  if (dlg) dlg.addEventListener("close", function () {
    document.getElementById("dlg-body").innerHTML = "";
  });
  document.body.addEventListener("vw-close-dialog", function () {
    var d = dialog();
    if (d && d.open) d.close();
  });

  // A request that failed (a 5xx, the engine gone) says so instead of
  // doing nothing.
  document.addEventListener("htmx:responseError", function (e) {
    var x = e.detail.xhr;
    flash("The engine answered " + x.status + ": " + (x.responseText || x.statusText).slice(0, 300));
  });
  document.addEventListener("htmx:sendError", function () {
    flash("The engine cannot be reached; the page will catch up when it can.");
  });
  function flash(text) {
    var r = document.getElementById("result") || document.getElementById("flash");
    if (!r) {
      r = document.createElement("div");
      r.id = "flash";
      r.setAttribute("aria-live", "assertive");
      var main = document.getElementById("main");
      main.insertBefore(r, main.firstChild);
    }
    r.innerHTML = "";
    var p = document.createElement("div");
    p.className = "result refused";
    p.setAttribute("role", "alert");
    p.textContent = text;
    r.appendChild(p);
  }

  // Live: the engine says "changed" when any audit event was committed;
  // the page's regions (hx-trigger="vw:changed from:body") re-read.
  var badge = document.getElementById("live");
  if (!badge || !window.EventSource) return;
  var fallback = null;
  function changed() { htmx.trigger(document.body, "vw:changed"); }
  function connect() {
    var es = new EventSource("/live");
    es.addEventListener("open", function () {
      badge.className = "live on";
      badge.textContent = "live";
      badge.title = "Live updates: on";
      if (fallback) { clearInterval(fallback); fallback = null; }
      // A change between the page's rendering and the stream's start (or
      // while it was down) is read now: one re-read per (re)connection.
      changed();
    });
    es.addEventListener("changed", changed);
    es.addEventListener("signedout", function () { es.close(); window.location = "/login"; });
    es.addEventListener("error", function () {
      badge.className = "live off";
      badge.textContent = "reconnecting";
      badge.title = "Live updates: reconnecting";
      // EventSource retries by itself; until then, read every 10 s.
      if (!fallback) fallback = setInterval(changed, 10000);
    });
  }
  connect();
})();
