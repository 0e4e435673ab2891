/* Tipline: what JavaScript adds to pages that work without it. Photos are shrunk before
   they travel; a form sent on a bad network is retried, and without a network it waits in
   the outbox (outbox.js) and goes by itself when the network returns; "use my location";
   the language choice remembered in local storage. Every sentence comes from the page. */
(function () {
  "use strict";
  var doc = document, root = doc.documentElement, box = window.TiplineOutbox;
  var S = {}, SIDE = 1600, MAX_PHOTOS = 3;
  var ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

  function $(sel, el) { return (el || doc).querySelector(sel); }
  function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function random(n) { // n symbols of the follow-up code alphabet (32 divides 256: no bias)
    var out = "", bytes = crypto.getRandomValues(new Uint8Array(n));
    for (var i = 0; i < n; i++) out += ALPHABET[bytes[i] % 32];
    return out;
  }
  function grouped(code) { return code.match(/.{1,4}/g).join("-"); }
  function wait(ms) { return new Promise(function (ok) { setTimeout(ok, ms); }); }

  /* --- language: remembered on this phone, never in a cookie ----------------------- */
  function rememberLanguage() {
    var saved;
    try { saved = localStorage.getItem("tipline-lang"); } catch (e) { return false; }
    doc.addEventListener("click", function (e) {
      var a = e.target.closest && e.target.closest("a[data-lang]");
      if (a) try { localStorage.setItem("tipline-lang", a.getAttribute("data-lang")); } catch (e2) {}
    });
    var other = saved && saved !== root.lang && $('link[rel=alternate][hreflang="' + saved + '"]');
    // The fragment goes along: it may carry a follow-up code (see lookupFromFragment).
    if (other) location.replace(other.href + location.hash);
    return !!other;
  }

  /* --- photos: long side 1600 px, JPEG, metadata left behind ------------------------ */
  function shrink(file) {
    if (!window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bmp) {
      var scale = Math.min(1, SIDE / Math.max(bmp.width, bmp.height));
      var canvas = el("canvas");
      canvas.width = Math.round(bmp.width * scale);
      canvas.height = Math.round(bmp.height * scale);
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      if (bmp.close) bmp.close();
      return new Promise(function (ok) { canvas.toBlob(ok, "image/jpeg", 0.8); });
    }).then(function (blob) { return blob || file; }, function () { return file; });
  }

  /* A form as a list of [name, value(, filename)]: what IndexedDB can keep. */
  function collect(form) {
    var fields = [], files = [], data = new FormData(form);
    data.forEach(function (value, name) {
      if (typeof value === "string") fields.push([name, value]);
      else if (name === "voice") { if (value.size) fields.push([name, value, "ghi-am"]); } // as it is
      else if (value.size && files.length < MAX_PHOTOS) files.push([name, value]);
    });
    return Promise.all(files.map(function (f) { return shrink(f[1]); })).then(function (blobs) {
      blobs.forEach(function (blob, i) {
        fields.push([files[i][0], blob, "anh-" + (i + 1) + (blob.type === "image/jpeg" ? ".jpg" : "")]);
      });
      return fields;
    });
  }

  function body(fields) {
    var data = new FormData();
    fields.forEach(function (f) { if (f.length > 2) data.append(f[0], f[1], f[2]); else data.append(f[0], f[1]); });
    return data;
  }

  /* Online: post, retrying a dropped connection; the answer replaces the page. */
  function attempt(url, fields, tries) {
    return fetch(url, { method: "POST", body: body(fields), headers: { Accept: "text/html" } })
      .then(function (r) {
        if (r.status >= 500) throw new Error(String(r.status));
        return r.text();
      }).catch(function (error) {
        if (tries <= 1) throw error;
        return wait(1500).then(function () { return attempt(url, fields, tries - 1); });
      });
  }

  function show(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    doc.title = next.title;
    doc.body.replaceWith(doc.adoptNode(next.body));
    // The new page's own scripts (a receipt's push opt-in) run as they would on a load.
    Array.prototype.forEach.call(doc.body.querySelectorAll("script[src]"), function (old) {
      var fresh = el("script");
      fresh.src = old.src;
      old.replaceWith(fresh);
    });
    window.scrollTo(0, 0);
    page();
    var target = $("#form-errors") || $("main h1");
    if (target) { target.tabIndex = -1; target.focus(); }
  }

  function validOffline(form) {
    var tier = $("input[name=identity_tier]:checked", form), named = tier && tier.value !== "anonymous";
    [["name", S.need_name], ["phone", S.need_phone]].forEach(function (pair) {
      var input = form.elements[pair[0]];
      if (input) input.setCustomValidity(named && !input.value.trim() ? pair[1] : "");
    });
    return form.checkValidity() || (form.reportValidity(), false);
  }

  /* The form page's address carries its submission key (?phieu=) so that, without
     script, Back and send again replays the same tip. Here the outbox sends instead and
     the address goes without it: a reload after the receipt opens a fresh form. The
     plain post, when it is the fallback, gets the keyed address back first. */
  function unkey() {
    if (!window.URL || !history.replaceState) return null;
    var url = new URL(location.href);
    if (!url.searchParams.has("phieu")) return null;
    var keyed = location.href;
    url.searchParams.delete("phieu");
    history.replaceState(history.state, "", url.href);
    return keyed;
  }

  /* --- the photos chosen, before sending: a thumbnail each, and a button to leave one out */
  function thumbnail(file) {
    if (!window.createImageBitmap) return Promise.resolve(null);
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bmp) {
      var scale = Math.min(1, 192 / Math.max(bmp.width, bmp.height));
      var canvas = el("canvas");
      canvas.width = Math.max(1, Math.round(bmp.width * scale));
      canvas.height = Math.max(1, Math.round(bmp.height * scale));
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      if (bmp.close) bmp.close();
      return canvas.toDataURL("image/jpeg", 0.7); // a data: address: the CSP allows no blob:
    }).catch(function () { return null; });
  }

  function preview(form, files) {
    var list = $("[data-photo-preview]", form);
    if (!list) return;
    var canEdit = !!window.DataTransfer;
    list.textContent = "";
    var chosen = Array.prototype.slice.call(files.files, 0, MAX_PHOTOS);
    list.hidden = !chosen.length;
    chosen.forEach(function (file, i) {
      var name = list.getAttribute("data-photo-name").replace("{n}", String(i + 1));
      var li = el("li", "shot"), holder = el("span", "thumb", file.name);
      li.appendChild(holder);
      thumbnail(file).then(function (src) {
        if (!src) return;
        var img = el("img");
        img.src = src;
        img.alt = name;
        holder.textContent = "";
        holder.appendChild(img);
      });
      if (canEdit) {
        var remove = el("button", "button", list.getAttribute("data-remove"));
        remove.type = "button";
        remove.setAttribute("aria-label", list.getAttribute("data-remove") + " (" + name + ")");
        remove.addEventListener("click", function () {
          var keep = new DataTransfer();
          Array.prototype.forEach.call(files.files, function (f, j) { if (j !== i) keep.items.add(f); });
          files.files = keep.files;
          files.dispatchEvent(new Event("change"));
          files.focus();
        });
        li.appendChild(remove);
      }
      list.appendChild(li);
    });
  }

  function enhance(form) {
    var tip = !!form.elements.submission_key, files = $("input[type=file]", form);
    var keyed = tip && box && window.fetch && window.indexedDB ? unkey() : null;
    if (files) files.addEventListener("change", function () {
      var note = $("[data-photo-note]", form);
      if (note) note.textContent = files.files.length > MAX_PHOTOS ? S.too_many : "";
      preview(form, files);
    });
    form.addEventListener("submit", function (event) {
      if (!box || !window.fetch || !window.indexedDB) return; // the plain post does it all
      event.preventDefault();
      if (form.getAttribute("aria-busy")) return;
      if (!navigator.onLine && !validOffline(form)) return;
      form.setAttribute("aria-busy", "true");
      var button = $("button[type=submit]", form), label = button && button.textContent;
      if (button) button.textContent = S.sending;
      var entry = { kind: tip ? "tip" : "photo", url: form.action, created: Date.now(), state: "waiting" };
      if (tip) {
        if (!form.elements.submission_key.value) form.elements.submission_key.value = random(24);
        entry.id = form.elements.submission_key.value;
        entry.code = random(16); // the follow-up code: chosen here, kept even before sending
      } else {
        entry.id = random(24);
        entry.reference = form.elements.reference.value;
      }
      if (tip) entry.puzzle = form.getAttribute("data-puzzle");
      collect(form).then(function (fields) {
        if (tip) fields.push(["follow_up_code", entry.code]);
        entry.fields = fields;
        var send = navigator.onLine ? box.withPuzzle(entry).then(function (withPuzzle) {
          return attempt(form.action, withPuzzle, 3);
        }) : Promise.reject();
        return send.then(show, function () {
          if (!navigator.onLine || validOffline(form)) return queue(form, entry);
          form.removeAttribute("aria-busy");
        });
      }).catch(function () {
        if (keyed) history.replaceState(history.state, "", keyed);
        form.submit(); // no IndexedDB here (private window): the plain post still works
      }).then(function () {
        if (button) button.textContent = label;
        form.removeAttribute("aria-busy");
      });
    });
  }

  function queue(form, entry) {
    return box.put(entry).then(function () {
      var main = $("main");
      main.textContent = "";
      var h1 = el("h1", null, entry.kind === "tip" ? S.queued_title : S.photo_queued_title);
      main.appendChild(h1);
      main.appendChild(el("p", "lead", entry.kind === "tip" ? S.queued_text : S.photo_queued_text));
      if (entry.kind === "tip") {
        var dl = el("dl", "receipt card");
        [[S.reference, S.reference_pending, "reference"], [S.code, grouped(entry.code), "follow-up-code"]]
          .forEach(function (row) {
            var div = el("div"), dd = el("dd", "code", row[1]);
            dd.id = row[2];
            if (row[2] === "reference") { dd.className = "pending"; dd.setAttribute("data-entry", entry.id); }
            div.appendChild(el("dt", null, row[0]));
            div.appendChild(dd);
            dl.appendChild(div);
          });
        main.appendChild(dl);
        main.appendChild(el("p", "warning", S.code_once));
      }
      var again = el("a", "button", entry.kind === "tip" ? S.another : S.home);
      again.href = entry.kind === "tip" ? location.href : (root.getAttribute("data-home") || "/");
      var p = el("p", "actions");
      p.appendChild(again);
      main.appendChild(p);
      h1.tabIndex = -1;
      h1.focus();
      if (navigator.serviceWorker && navigator.serviceWorker.ready) {
        navigator.serviceWorker.ready.then(function (reg) {
          if (reg.sync) return reg.sync.register("tipline-outbox");
        }).catch(function () {});
      }
      render();
    });
  }

  /* --- the proof of work, when a flood calls for one (tipline/public/puzzle.py): solved in a
     Web Worker, whose script is fetched only then; the outbox asks for it (outbox.js) --- */
  window.TiplineSolve = function (puzzle, bits) {
    return new Promise(function (ok, fail) {
      var url = root.getAttribute("data-puzzle-worker");
      if (!window.Worker || !url) return fail(new Error("no worker"));
      var worker = new Worker(url);
      worker.onmessage = function (event) {
        if (event.data.answer === undefined) return; // progress
        worker.terminate();
        if (event.data.answer === null) fail(new Error("unsolved")); else ok(event.data.answer);
      };
      worker.onerror = function (error) { worker.terminate(); fail(error); };
      worker.postMessage({ puzzle: puzzle, bits: bits });
    });
  };

  /* --- the outbox, on every page ----------------------------------------------------- */
  var timer = null;
  function render() {
    var panel = $("#outbox");
    if (!panel || !box) return Promise.resolve();
    return box.all().then(function (entries) {
      panel.textContent = "";
      panel.hidden = !entries.length;
      if (!entries.length) return;
      panel.appendChild(el("h2", null, S.outbox));
      var list = el("ul");
      entries.sort(function (a, b) { return a.created - b.created; }).forEach(function (e) {
        var li = el("li", e.state), text;
        if (e.state === "waiting") text = e.kind === "tip" ? S.waiting_tip : S.waiting_photo;
        else if (e.state === "sent") text = e.kind === "tip" ? S.sent_tip : S.sent_photo;
        else text = S.failed + " " + (e.error || "");
        li.appendChild(el("span", null, text + " "));
        // Which is which: the reference (public) and the code (secret), each named.
        if (e.reference) {
          li.appendChild(el("span", "what", S.reference + ": "));
          li.appendChild(el("strong", "ref", e.reference + " "));
        }
        if (e.code) {
          li.appendChild(el("span", "what", S.code + ": "));
          li.appendChild(el("span", "code", grouped(e.code)));
        }
        if (e.kind === "tip" && e.state === "sent" && e.reference && e.code) {
          var see = el("a", "button", S.see_status);
          see.href = statusLink(e.reference, grouped(e.code));
          li.appendChild(see);
        }
        var pending = $('[data-entry="' + e.id + '"]');
        if (pending && e.reference) {
          pending.textContent = e.reference;
          pending.className = "code";
          $("main h1").textContent = S.sent_title;
          $("main .lead").textContent = S.sent_text;
          var actions = $("main p.actions");
          if (actions && e.code && !$("#see-status")) { // the receipt's own "see the status"
            var status = el("a", "button primary", S.see_status);
            status.id = "see-status";
            status.href = statusLink(e.reference, grouped(e.code));
            actions.insertBefore(status, actions.firstChild);
          }
        }
        if (e.state !== "waiting") {
          var forget = el("button", "button", S.forget);
          forget.type = "button";
          forget.addEventListener("click", function () { box.remove(e.id).then(render); });
          li.appendChild(forget);
        }
        list.appendChild(li);
      });
      panel.appendChild(list);
      var waiting = entries.some(function (e) { return e.state === "waiting"; });
      if (waiting && !timer) timer = setInterval(send, 20000);
      if (!waiting && timer) { clearInterval(timer); timer = null; }
    }).catch(function () {});
  }

  function send() {
    if (!box || !navigator.onLine) return;
    box.sendAll().then(render, render);
  }

  /* --- following up without retyping ------------------------------------------------------
     The code never travels in an address the server or the history keeps: it rides in the
     fragment (never sent), and the lookup page takes it out before anything else. */
  function statusLink(reference, code) {
    var base = root.getAttribute("data-follow-up") || "/tra-cuu";
    return base + "?reference=" + encodeURIComponent(reference) + "#ma=" + encodeURIComponent(code);
  }

  function receiptTools() {
    var ref = $("#reference"), code = $("#follow-up-code");
    var see = $("a[data-with-code]");
    if (see && ref && code) see.href = statusLink(ref.textContent.trim(), code.textContent.trim());
    var copy = $("button[data-copy]"), status = $("[data-copy-status]");
    if (!copy) return;
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var text = copy.getAttribute("data-copy-text");
      var done = function () { if (status) status.textContent = copy.getAttribute("data-copied"); };
      var failed = function () { if (status) status.textContent = copy.getAttribute("data-copy-failed"); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { (legacyCopy(text) ? done : failed)(); });
      } else (legacyCopy(text) ? done : failed)();
    });
  }

  function legacyCopy(text) {
    var area = el("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    doc.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = doc.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  function lookupFromFragment() {
    var form = $("form[data-lookup]");
    var match = /^#ma=([A-Za-z0-9-]{16,40})$/.exec(location.hash);
    if (!match) return;
    // Out of the address (and of this history entry) before anything else happens.
    if (history.replaceState) history.replaceState(history.state, "", location.pathname + location.search);
    else location.hash = "";
    if (!form || !form.elements.code || !form.elements.reference) return;
    form.elements.code.value = decodeURIComponent(match[1]);
    if (form.elements.reference.value) form.submit();
  }

  /* --- the reply box: the button names what the chosen radio sends ------------------------ */
  function replyChoice(form) {
    var button = $("button[type=submit]", form);
    function update() {
      var chosen = $("input[name=kind]:checked", form);
      if (chosen && chosen.getAttribute("data-button")) button.textContent = chosen.getAttribute("data-button");
    }
    Array.prototype.forEach.call(form.querySelectorAll("input[name=kind][type=radio]"), function (r) {
      r.addEventListener("change", update);
    });
    update();
  }

  /* --- the date and time of the form: now in Vietnam's time (as the server counts days), on
     the phone's clock: the page may have been kept for use offline. Unless changed. -------- */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function vietnamNow() {
    var now = new Date(), at = {};
    try {
      new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
        .formatToParts(now).forEach(function (p) { at[p.type] = p.value; });
    } catch (e) { at = {}; }
    if (!at.year) at = { year: String(now.getFullYear()), month: pad(now.getMonth() + 1),
      day: pad(now.getDate()), hour: pad(now.getHours()), minute: pad(now.getMinutes()) };
    return { date: at.year + "-" + at.month + "-" + at.day, time: at.hour + ":" + at.minute };
  }
  function nowFields() {
    var now = vietnamNow();
    Array.prototype.forEach.call(doc.querySelectorAll("input[data-now]"), function (input) {
      if (input.value !== input.defaultValue) return; // typed or restored by the browser
      var value = now[input.getAttribute("data-now")];
      if (!value) return;
      input.value = value;
      input.defaultValue = value;
    });
  }

  /* --- "use my location" ---------------------------------------------------------------- */
  function locate(button) {
    if (!navigator.geolocation) return;
    button.hidden = false;
    var status = $("[data-locate-status]");
    button.addEventListener("click", function () {
      status.textContent = S.locating;
      navigator.geolocation.getCurrentPosition(function (pos) {
        $("#latitude").value = pos.coords.latitude.toFixed(6);
        $("#longitude").value = pos.coords.longitude.toFixed(6);
        var details = $("#latitude").closest("details");
        if (details) details.open = true;
        status.textContent = S.located;
      }, function () { status.textContent = S.locate_failed; }, { enableHighAccuracy: true, timeout: 20000 });
    });
  }

  function page() {
    var strings = $("#tl-strings");
    if (strings) S = JSON.parse(strings.textContent);
    Array.prototype.forEach.call(doc.querySelectorAll("form[data-enhance]"), enhance);
    var button = $("[data-locate]");
    if (button) locate(button);
    var recorder = $("[data-voice-recorder]"); // its script loads only when tapped
    if (recorder && window.MediaRecorder && navigator.mediaDevices && window.DataTransfer) {
      recorder.hidden = false;
      $("[data-voice-start]", recorder).addEventListener("click", function () {
        if (window.tiplineVoice) return;
        var script = el("script");
        script.src = recorder.getAttribute("data-script");
        doc.head.appendChild(script);
      }, { once: true });
    }
    receiptTools();
    nowFields();
    var reply = $("form[data-reply]");
    if (reply) replyChoice(reply);
    var errors = $("#form-errors");
    if (errors) { errors.tabIndex = -1; errors.focus(); }
    render().then(send);
  }

  if (!rememberLanguage()) lookupFromFragment();
  page();
  window.addEventListener("online", send);
  if (navigator.serviceWorker && root.getAttribute("data-sw")) {
    navigator.serviceWorker.addEventListener("message", render);
    window.addEventListener("load", function () {
      navigator.serviceWorker.register(root.getAttribute("data-sw"), { scope: root.getAttribute("data-scope") })
        .catch(function () {});
    });
  }
})();
