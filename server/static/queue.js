/* The phone's durable queue of scans (IndexedDB) and its upload, shared by the
   page and the service worker. A scan is written here before anything else;
   it leaves only when the server has answered it with a final status. */
"use strict";

const CHECKIN_DB = "checkin";
const FINAL_STATUSES = ["accepted", "duplicate", "conflict", "quarantined"];

function openQueueDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(CHECKIN_DB, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("queue", { keyPath: "id" });
      db.createObjectStore("meta");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

async function getMeta(key) {
  const db = await openQueueDb();
  return done(db.transaction("meta").objectStore("meta").get(key));
}

async function setMeta(key, value) {
  const db = await openQueueDb();
  const transaction = db.transaction("meta", "readwrite");
  transaction.objectStore("meta").put(value, key);
  return finished(transaction);
}

/* Time-ordered ids (UUID version 7) keep the server's index append-mostly. */
function uuid7() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let millis = Date.now();
  for (let i = 5; i >= 0; i--) { bytes[i] = millis % 256; millis = Math.floor(millis / 256); }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/* Record one scan durably: one transaction numbers it and stores it. */
async function enqueueScan(scan) {
  const db = await openQueueDb();
  const transaction = db.transaction(["queue", "meta"], "readwrite");
  const meta = transaction.objectStore("meta");
  const seq = (await done(meta.get("next_seq"))) || 1;
  const event = { id: uuid7(), seq, ...scan, occurred_at: new Date().toISOString() };
  meta.put(seq + 1, "next_seq");
  meta.put({ type: event.type, station: scan.stationCode, at: event.occurred_at }, "last_scan");
  delete event.stationCode;
  transaction.objectStore("queue").put({ id: event.id, seq, event, queued_at: event.occurred_at });
  await finished(transaction);
  return event;
}

async function queuedScans() {
  const db = await openQueueDb();
  const items = await done(db.transaction("queue").objectStore("queue").getAll());
  return items.sort((a, b) => a.seq - b.seq);
}

async function dropScans(ids) {
  const db = await openQueueDb();
  const transaction = db.transaction("queue", "readwrite");
  for (const id of ids) transaction.objectStore("queue").delete(id);
  return finished(transaction);
}

/* Send the queue (up to 500 at a time); keep whatever got no final answer. */
async function pushQueue() {
  const token = await getMeta("token");
  if (!token) return { sent: 0 };
  let sent = 0;
  for (;;) {
    const items = (await queuedScans()).slice(0, 500);
    if (!items.length) return { sent };
    const body = {
      batch_id: crypto.randomUUID(),
      sent_at: new Date().toISOString(),
      device: { app_version: "web-1", queue_length: items.length, oldest_queued_at: items[0].queued_at },
      events: items.map((item) => item.event),
    };
    const response = await fetch("/api/v1/sync/push", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    if (response.status !== 200) return { sent, status: response.status };
    const answer = await response.json();
    const final = answer.results.filter((r) => FINAL_STATUSES.includes(r.status)).map((r) => r.id);
    await dropScans(final);
    sent += final.length;
    if (!final.length) return { sent };
  }
}

/* One sender at a time across tabs and the service worker (Web Locks). */
function pushOnce() {
  if (self.navigator && navigator.locks) {
    return navigator.locks.request("checkin-push", () => pushQueue());
  }
  return pushQueue();
}
