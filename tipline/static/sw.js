/* Tipline service worker: the blank forms and their assets open without a network; tips
   written offline are sent from the outbox when it returns. self.TIPLINE (version, asset
   URLs) is written above this file by the server. Nothing that shows a tip is ever cached:
   receipts and status pages are answers to posts, which pass straight through. */
"use strict";
importScripts(self.TIPLINE.outbox, self.TIPLINE.puzzle);
/* A queued tip asked for a puzzle as it leaves (a flood): solved here, off every page. */
self.TiplineSolve = function (puzzle, bits) {
  var answer = solve(String(puzzle), Number(bits));
  return answer === null ? Promise.reject(new Error("unsolved")) : Promise.resolve(answer);
};
var CACHE = "tipline-" + self.TIPLINE.version;
var PAGES = /^(\/en)?\/(gui-tin|tra-cuu)?$/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(self.TIPLINE.assets); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

/* A form page's address may carry its submission key (?phieu=): kept without it. */
function plain(href) {
  var url = new URL(href);
  url.searchParams.delete("phieu");
  return url.href;
}

/* The copy kept for offline use carries no submission key: the page draws a fresh one. */
function keep(request, response) {
  return response.clone().text().then(function (html) {
    html = html.replace(/(name="submission_key" type="hidden" value=")[^"]*"/, '$1"')
      .replace(/(name="phieu" value=")[^"]*"/, '$1"');
    var headers = { "Content-Type": "text/html; charset=utf-8" };
    return caches.open(CACHE).then(function (c) {
      return c.put(plain(request.url), new Response(html, { headers: headers }));
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    // Fingerprinted names never change content: keep what the pages fetch, too.
    event.respondWith(caches.match(request).then(function (hit) {
      return hit || fetch(request).then(function (response) {
        if (response.ok && /\.[0-9a-f]{10}\./.test(url.pathname)) {
          var copy = response.clone();
          event.waitUntil(caches.open(CACHE).then(function (c) { return c.put(request, copy); }));
        }
        return response;
      });
    }));
    return;
  }
  if (request.mode !== "navigate" || !PAGES.test(url.pathname)) return;
  event.respondWith(fetch(request).then(function (response) {
    // The lookup page opened from a receipt's link (?reference=) is not kept: a shared
    // phone's offline copy must not show whose tip was looked up.
    if (response.status === 200 && !url.searchParams.has("reference")) {
      event.waitUntil(keep(request, response));
    }
    return response;
  }, function () {
    var home = (url.pathname.indexOf("/en/") === 0 ? "/en" : "") + "/gui-tin";
    return caches.match(plain(request.url)).then(function (hit) {
      return hit || caches.match(new URL(home, url).href);
    }).then(function (hit) {
      return hit || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
    });
  }));
});

function sendAll() {
  return self.TiplineOutbox.sendAll().then(function () {
    return self.clients.matchAll().then(function (all) {
      all.forEach(function (c) { c.postMessage("outbox"); });
    });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === "tipline-outbox") event.waitUntil(sendAll());
});
self.addEventListener("message", function (event) {
  if (event.data === "send") event.waitUntil(sendAll());
});
