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

/* The event's text as the server hashes it (sync/protocol.py canonical_json,
   Python's json.dumps with sorted keys): no spaces, non-ASCII as itself,
   numbers as Python writes what it reads of them. The page's keys are
   ASCII, so JavaScript's sort orders them as Python's does. */
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(",")}}`;
  }
  return typeof value === "number" ? pythonNumber(value) : JSON.stringify(value);
}

/* A number as Python writes it once it has read it from JSON.stringify's text.
   Both write the shortest digits that read back the same; they differ only
   in where exponents begin: Python writes 1e-05 where JavaScript writes
   0.00001, and pads the exponent to two digits (1.5e-07, not 1.5e-7).
   Integers up to 1e21 are read as Python ints and come back as written. */
function pythonNumber(number) {
  if (!Number.isFinite(number) || Number.isInteger(number) || Math.abs(number) >= 1e-4) {
    return JSON.stringify(number);
  }
  let [digits, exponent] = String(Math.abs(number)).split("e");
  if (exponent === undefined) {  // 0.0000123: 1.23 and -5
    const fraction = digits.slice(2);
    const zeros = fraction.length - fraction.replace(/^0+/, "").length;
    const significant = fraction.slice(zeros);
    digits = significant.length > 1 ? `${significant[0]}.${significant.slice(1)}` : significant;
    exponent = String(-(zeros + 1));
  }
  return `${number < 0 ? "-" : ""}${digits}e-${String(-Number(exponent)).padStart(2, "0")}`;
}

/* SHA-256 of the event's canonical JSON, lowercase hex: sync.protocol.content_hash. */
async function contentHash(event) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonicalJson(event)));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/* Record one scan durably: numbered, and linked to the scan numbered just
   before it by that scan's hash (docs/sync-protocol.md, "Linked scans").
   Hashing cannot happen inside an IndexedDB transaction (it would commit
   meanwhile), so the scan is made from what the counter says and written
   only if the counter still says so; a scan another tab recorded in
   between makes this one start again. */
async function enqueueScan(scan) {
  const db = await openQueueDb();
  for (;;) {
    const reading = db.transaction("meta").objectStore("meta");
    const [next, last] = await Promise.all([done(reading.get("next_seq")), done(reading.get("last_hash"))]);
    const seq = next || 1;
    const event = { id: uuid7(), seq, ...scan, occurred_at: new Date().toISOString() };
    delete event.stationCode;
    if (last && last.seq === seq - 1) event.prev = last.hash;
    // No WebCrypto outside a secure context (plain http on a LAN): unlinked, but recorded.
    const hash = crypto.subtle ? await contentHash(event) : null;
    const transaction = db.transaction(["queue", "meta"], "readwrite");
    const meta = transaction.objectStore("meta");
    if (((await done(meta.get("next_seq"))) || 1) !== seq) {
      await finished(transaction);
      continue;
    }
    meta.put(seq + 1, "next_seq");
    meta.put(hash && { seq, hash }, "last_hash");
    meta.put({ type: event.type, station: scan.stationCode, at: event.occurred_at }, "last_scan");
    transaction.objectStore("queue").put({ id: event.id, seq, event, queued_at: event.occurred_at });
    await finished(transaction);
    return event;
  }
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
