/* Tipline outbox: forms written without a network, kept in IndexedDB and sent by
   themselves when it comes back. Shared by the pages and the service worker.
   An entry carries its form's submission key, so sending it twice records it once. */
(function (g) {
  "use strict";
  var STORE = "outbox";

  function db() {
    return new Promise(function (ok, fail) {
      var r = indexedDB.open("tipline", 1);
      r.onupgradeneeded = function () { r.result.createObjectStore(STORE, { keyPath: "id" }); };
      r.onsuccess = function () { ok(r.result); };
      r.onerror = function () { fail(r.error); };
    });
  }

  function run(mode, work) {
    return db().then(function (d) {
      return new Promise(function (ok, fail) {
        var t = d.transaction(STORE, mode), req = work(t.objectStore(STORE));
        t.oncomplete = function () { d.close(); ok(req && req.result); };
        t.onerror = t.onabort = function () { d.close(); fail(t.error); };
      });
    });
  }

  var box = {
    put: function (entry) { return run("readwrite", function (s) { return s.put(entry); }); },
    all: function () { return run("readonly", function (s) { return s.getAll(); }); },
    remove: function (id) { return run("readwrite", function (s) { return s.delete(id); }); },
    /* The proof of work (tipline/public/puzzle.py), asked for just before a tip leaves: the
       entry's fields plus a solved puzzle when the server wants one, else as they are (a
       post without one is still accepted). Solving is the context's g.TiplineSolve: a Web
       Worker on a page, the service worker's own thread there. */
    withPuzzle: function (entry) {
      var fields = entry.fields.filter(function (f) { return f[0] !== "puzzle" && f[0] !== "puzzle_answer"; });
      if (entry.kind !== "tip" || !entry.puzzle || !g.TiplineSolve || !g.fetch) return Promise.resolve(fields);
      return fetch(entry.puzzle, { credentials: "omit", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (asked) {
          if (!asked.puzzle) return fields;
          return g.TiplineSolve(asked.puzzle, asked.bits).then(function (answer) {
            return fields.concat([["puzzle", asked.puzzle], ["puzzle_answer", answer]]);
          });
        })
        .catch(function () { return fields; });
    },
    post: function (entry) {
      return box.withPuzzle(entry).then(function (fields) {
        var body = new FormData();
        fields.forEach(function (f) {
          if (f.length > 2) body.append(f[0], f[1], f[2]); else body.append(f[0], f[1]);
        });
        return fetch(entry.url, {
          method: "POST", body: body, credentials: "omit", headers: { Accept: "application/json" }
        });
      });
    },
    /* One sender at a time across tabs and the worker; the server's key check is the backstop. */
    sendAll: function () {
      var go = function () {
        return box.all().then(function (entries) {
          var waiting = entries.filter(function (e) { return e.state === "waiting"; });
          return waiting.reduce(function (chain, e) {
            return chain.then(function () { return box.sendOne(e); });
          }, Promise.resolve());
        });
      };
      return g.navigator.locks ? g.navigator.locks.request("tipline-outbox", go) : go();
    },
    sendOne: function (entry) {
      return box.post(entry).then(function (r) {
        if (r.status >= 500 || r.status === 429) return; // not saved: try again later
        return r.json().catch(function () { return {}; }).then(function (answer) {
          // Once sent, the text and photos leave the phone; a refused entry keeps them.
          var done = { id: entry.id, kind: entry.kind, code: entry.code, created: entry.created,
            url: entry.url, fields: r.ok ? [] : entry.fields };
          if (r.ok) {
            done.state = "sent";
            done.reference = answer.reference || entry.reference || "";
          } else {
            done.state = "failed";
            done.error = answer.error || String(r.status);
            done.reference = entry.reference || "";
          }
          return box.put(done);
        });
      }, function () { /* still offline */ });
    }
  };
  g.TiplineOutbox = box;
})(self);
