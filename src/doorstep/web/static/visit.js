// The verifier's phone pages: the position for check-in/out and SOS, and the interview
// kept as a draft in localStorage and submitted with an idempotency key (a retry or a
// double tap sends the same key, so the server records one visit). No build step.
(function () {
  "use strict";

  function csrf() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function randomKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // --- Position: fill lat/lng/accuracy/device_time, then send the form -------------------
  function withPosition(form) {
    var sent = false;
    function send() {
      if (sent) return;
      sent = true;
      var time = form.querySelector("input[name=device_time]");
      if (time) time.value = new Date().toISOString();
      form.submit();
    }
    if (!navigator.geolocation) return send();
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        var set = function (name, value) {
          var input = form.querySelector("input[name=" + name + "]");
          if (input) input.value = String(value);
        };
        set("lat", pos.coords.latitude);
        set("lng", pos.coords.longitude);
        set("accuracy", pos.coords.accuracy);
        send();
      },
      function () { send(); },  // no position: the server flags the check-in
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 }
    );
    setTimeout(send, 12000);
  }

  document.querySelectorAll("form[data-geo]").forEach(function (form) {
    var leaving = false;
  form.addEventListener("submit", function (event) {
      event.preventDefault();
      withPosition(form);
    });
  });

  // --- The interview: draft and submission ---------------------------------------------
  var form = document.getElementById("interview");
  if (!form) return;
  var visit = form.dataset.visit;
  var draftKey = "doorstep:visit:" + visit + ":draft";
  var idemKey = "doorstep:visit:" + visit + ":key";
  var problem = document.getElementById("form-error");

  function fields() {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.type !== "file" && el.type !== "submit";
    });
  }

  function saveDraft() {
    var draft = {};
    fields().forEach(function (el) {
      if (el.type === "checkbox") {
        draft[el.name] = draft[el.name] || [];
        if (el.checked) draft[el.name].push(el.value);
      } else if (el.type === "radio") {
        if (el.checked) draft[el.name] = el.value;
      } else {
        draft[el.name] = el.value;
      }
    });
    try { localStorage.setItem(draftKey, JSON.stringify(draft)); } catch (e) { /* full */ }
  }

  function restoreDraft() {
    var text = localStorage.getItem(draftKey);
    if (!text) return;
    var draft;
    try { draft = JSON.parse(text); } catch (e) { return; }
    fields().forEach(function (el) {
      if (!(el.name in draft)) return;
      var value = draft[el.name];
      if (el.type === "checkbox") el.checked = Array.isArray(value) && value.indexOf(el.value) >= 0;
      else if (el.type === "radio") el.checked = value === el.value;
      else el.value = value;
    });
    var note = document.getElementById("draft-note");
    if (note) note.hidden = false;
  }

  function key() {
    var value = localStorage.getItem(idemKey);
    if (!value) {
      value = randomKey();
      localStorage.setItem(idemKey, value);
    }
    return value;
  }

  function clearErrors() {
    problem.hidden = true;
    problem.textContent = "";
    form.querySelectorAll("[data-error-for]").forEach(function (p) { p.textContent = ""; });
  }

  function showProblem(body) {
    problem.textContent = body.detail || "?";
    problem.hidden = false;
    (body.errors || []).forEach(function (e) {
      var slot = form.querySelector("[data-error-for='" + e.field + "']");
      if (slot) slot.textContent = e.message;
    });
    problem.scrollIntoView({ block: "center" });
  }

  restoreDraft();
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);

  var leaving = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    saveDraft();
    clearErrors();
    var data = new FormData(form);
    data.set("idempotency_key", key());
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) {
          localStorage.removeItem(draftKey);
          localStorage.removeItem(idemKey);
          // a double tap sends twice (the server keeps one visit); leave the page once,
          // or the second answer would abort the first navigation
          if (!leaving) {
            leaving = true;
            window.location.assign(body.redirect);
          }
        } else {
          showProblem(body);  // the draft stays in localStorage
        }
      });
    }).catch(function () {
      var offline = form.querySelector("[data-msg-offline]");
      showProblem({ detail: offline ? offline.textContent : "offline" });
    });
  });
})();
