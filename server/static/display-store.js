/* Where a station display keeps itself: one record in IndexedDB holding its
   code, station and private key. The key was generated non-extractable: the
   browser signs with it but never hands out its bytes, not even to this page. */
"use strict";

const DISPLAY_DB = "station-display";

function openDisplayDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DISPLAY_DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("display");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function loadDisplay() {
  const db = await openDisplayDb();
  return new Promise((resolve, reject) => {
    const request = db.transaction("display").objectStore("display").get("current");
    request.onsuccess = () => resolve(request.result || null);
    request.onerror = () => reject(request.error);
  });
}

async function saveDisplay(record) {
  const db = await openDisplayDb();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction("display", "readwrite");
    transaction.objectStore("display").put(record, "current");
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/* A new key pair: the private key stays in this browser, unextractable; the
   public key (raw, base64url) is what the server registers. */
async function newDisplayKeys() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  return { privateKey: pair.privateKey, publicKey: b64url(raw) };
}
