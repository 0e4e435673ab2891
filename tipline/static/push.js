/* Tipline: turn Web Push on or off for this browser (staff devices, a resident's tip).
   The box [data-push] names its service worker, scope, server key and endpoint; its
   words come translated in data-msg-* attributes. The browser's PushSubscription.toJSON()
   goes to the endpoint as JSON (staff: with the page's CSRF token in X-CSRFToken; a
   receipt: with its two codes, as the page has no session yet). */
(function () {
  "use strict";
  var box = document.querySelector("[data-push]");
  if (!box) return;
  var on = box.querySelector("[data-push-on]"), off = box.querySelector("[data-push-off]");
  var status = box.querySelector("[data-push-status]");
  var d = box.dataset;

  function say(text, bad) {
    if (!status) return;
    status.textContent = text || "";
    status.className = bad ? "error" : "hint";
  }
  function show(subscribed) {
    if (on) on.hidden = subscribed;
    if (off) off.hidden = !subscribed;
  }

  box.hidden = false;
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    show(false);
    if (on) on.hidden = true;
    say(d.msgUnsupported);
    return;
  }

  function serverKey() {
    var text = d.key.replace(/-/g, "+").replace(/_/g, "/");
    text += "===".slice((text.length + 3) % 4);
    var raw = atob(text), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  /* A new registration's worker must be active before PushManager.subscribe. */
  function activated(reg) {
    if (reg.active) return Promise.resolve(reg);
    var worker = reg.installing || reg.waiting;
    return new Promise(function (ok) {
      worker.addEventListener("statechange", function () {
        if (worker.state === "activated") ok(reg);
      });
    });
  }

  function current() {
    return navigator.serviceWorker.getRegistration(d.scope).then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    });
  }

  function withCodes(data) {
    if (!d.codes) return data;
    var ref = document.getElementById("reference"), code = document.getElementById("follow-up-code");
    data.reference = ref ? ref.textContent.trim() : "";
    data.code = code ? code.textContent.trim() : "";
    return data;
  }

  function send(method, data) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (d.csrf) headers["X-CSRFToken"] = d.csrf;
    return fetch(d.endpoint, {
      method: method, headers: headers, credentials: "same-origin", body: JSON.stringify(data)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) {
        if (!r.ok) throw new Error(answer.error || d.msgFailed);
        return answer;
      });
    });
  }

  function failed(error) {
    say(error && error.message && error.name === "Error" ? error.message : d.msgFailed, true);
  }

  function subscribe() {
    say(d.msgBusy);
    Promise.resolve(Notification.requestPermission()).then(function (permission) {
      if (permission !== "granted") { say(d.msgDenied, true); return; }
      return navigator.serviceWorker.register(d.worker, { scope: d.scope }).then(activated)
        .then(function (reg) {
          return reg.pushManager.getSubscription().then(function (sub) {
            return sub || reg.pushManager.subscribe({
              userVisibleOnly: true, applicationServerKey: serverKey()
            });
          });
        })
        .then(function (sub) {
          var data = sub.toJSON();
          return send("POST", d.codes ? withCodes({ subscription: data }) : data);
        })
        .then(function () {
          show(true);
          say(d.msgOn);
          if (d.reload) window.location.reload();
        });
    }).catch(failed);
  }

  function unsubscribe() {
    say(d.msgBusy);
    current().then(function (sub) {
      if (!sub) return;
      return send("DELETE", withCodes({ endpoint: sub.endpoint })).then(function () {
        return sub.unsubscribe();
      });
    }).then(function () {
      show(false);
      say(d.msgOff);
      if (d.reload) window.location.reload();
    }).catch(failed);
  }

  if (on) on.addEventListener("click", subscribe);
  if (off) off.addEventListener("click", unsubscribe);
  current().then(function (sub) { show(!!sub); }, function () { show(false); });
})();
