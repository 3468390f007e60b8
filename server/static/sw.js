/* Service worker: the check-in page opens and records with no network at all;
   so does a station display (/display), which goes on showing new codes. */
"use strict";
importScripts("/static/queue.js");

// A new name on every change to the shell: phones keep the cached one until it changes.
const SHELL_CACHE = "checkin-shell-v8";
const SHELL = ["/app/checkin", "/static/checkin.js", "/static/queue.js", "/static/corrections.js",
  "/static/display-code.js", "/manifest.webmanifest", "/static/icons/icon-192.png",
  "/display", "/static/display.js", "/static/display-store.js", "/static/display-enrol.js",
  "/static/vendor/qrcode-generator.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(
    names.filter((n) => n !== SHELL_CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (event.request.mode === "navigate" && url.pathname.startsWith("/q/")) {
    // Network first (the server says whether the code is current); offline, the shell.
    event.respondWith(fetch(event.request).catch(() => caches.match("/app/checkin")));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(event.request)));
  }
});

self.addEventListener("sync", (event) => {
  if (event.tag === "push-queue") event.waitUntil(pushOnce());
});
