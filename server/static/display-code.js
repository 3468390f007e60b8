/* A station display's check-in code (docs/sync-protocol.md, "Station QR codes"):
     {base}/q/{station}?d={display}&w={window}&s={signature}
   window = floor(unix seconds / 30); the signature is Ed25519 by the display's
   own key over "{station}|{display}|{window}", base64url without padding.
   The display signs with it (display.js); the phone verifies it offline with
   the public keys it pulled (checkin.js). The same rules as sync/qr.py. */
"use strict";

const DISPLAY_WINDOW_S = 30;
const CODE_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

function displayWindow(millis) {
  return Math.floor(millis / 1000 / DISPLAY_WINDOW_S);
}

function displayMessage(station, display, window) {
  return new TextEncoder().encode(`${station}|${display}|${window}`);
}

function b64url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64urlDecode(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function displayUrl(base, station, display, window, signature) {
  return `${base.replace(/\/+$/, "")}/q/${encodeURIComponent(station)}` +
    `?d=${encodeURIComponent(display)}&w=${window}&s=${signature}`;
}

/* The parts of a display's code in a /q/ page's address, or null when the
   address is not one (a poster's code, or the app's start page). */
function parseDisplayCode(url) {
  if (!url.pathname.startsWith("/q/")) return null;
  const query = url.searchParams;
  if (!query.has("d")) return null;
  const station = decodeURIComponent(url.pathname.split("/").pop() || "");
  const [display, window, signature] = ["d", "w", "s"].map((n) => query.getAll(n));
  const one = (values) => values.length === 1 ? values[0] : null;
  const parts = { station, display: one(display), windowText: one(window), signature: one(signature) };
  const valid = CODE_PATTERN.test(station) && parts.display !== null && CODE_PATTERN.test(parts.display)
    && /^[0-9]{1,10}$/.test(parts.windowText || "") && parts.signature !== null
    && parts.signature.length <= 200;
  return { ...parts, window: valid ? Number(parts.windowText) : null, wellFormed: valid };
}

/* Whether the code's signature is the display's (with its pulled key):
   true, false, or null when this browser cannot verify Ed25519. */
async function verifyDisplayCode(code, key) {
  if (!code.wellFormed || key.station !== code.station) return false;
  // crypto.subtle exists only on HTTPS pages (and localhost).
  if (!self.crypto || !crypto.subtle) return null;
  let publicKey;
  try {
    publicKey = await crypto.subtle.importKey("raw", b64urlDecode(key.public_key),
      { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    // Older browsers have no Ed25519 in WebCrypto: they cannot tell.
    return error.name === "NotSupportedError" ? null : false;
  }
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, publicKey, b64urlDecode(code.signature),
      displayMessage(code.station, code.display, code.window));
  } catch (error) {
    return false;  // a signature that is not base64url
  }
}

/* Whether a scan at `millis` falls in the code's window widened by the
   clock tolerance each side: [start - tolerance, end + tolerance). */
function displayWindowCurrent(window, millis, toleranceS) {
  const start = window * DISPLAY_WINDOW_S * 1000;
  const end = start + DISPLAY_WINDOW_S * 1000;
  return start - toleranceS * 1000 <= millis && millis < end + toleranceS * 1000;
}
