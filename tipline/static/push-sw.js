/* Tipline push service worker: shows the alerts the server pushes, opens their link.
   Served as /staff/push-sw.js (scope /staff/) and as /tra-cuu/push/<scope>/sw.js, one
   scope per tip for residents. It handles no fetch: pages and the offline outbox stay
   with the site's own service worker (/sw.js). A push carries {title, body, url, tag,
   urgent}: never what a tip says. */
"use strict";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  var title = data.title || "Tipline";
  var options = {
    body: data.body || "",
    tag: data.tag || "tipline",
    renotify: true,
    requireInteraction: !!data.urgent,
    icon: "/static/icon-192.png",
    badge: "/static/icon-192.png",
    data: { url: data.url || "/" }
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var link = new URL(event.notification.data && event.notification.data.url || "/", self.location.origin);
  // Only pages of this site open from a notification (the path of the link, on this origin).
  var target = new URL(link.pathname + link.search + link.hash, self.location.origin);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (all) {
    for (var i = 0; i < all.length; i++) {
      if (all[i].url === target.href && "focus" in all[i]) return all[i].focus();
    }
    return self.clients.openWindow(target.href);
  }));
});
