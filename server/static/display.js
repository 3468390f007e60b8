/* A station display: a screen at the station showing a check-in code that
   changes every 30 s, signed in this browser with the display's own key, so
   it goes on with the network down (the page itself is cached by sw.js). */
"use strict";

const $ = (id) => document.getElementById(id);
const text = (id) => $(id).textContent;
const SETTINGS = $("display-page").dataset;

let display = null;
let shownWindow = null;

/* Show the code of the current window, if not shown yet, and the seconds
   until the next. Runs every second: timers stall while a screen sleeps, so
   the window is worked out from the clock each time, never counted. */
async function tick() {
  const now = Date.now();
  const window = displayWindow(now);
  const left = DISPLAY_WINDOW_S - Math.floor(now / 1000) % DISPLAY_WINDOW_S;
  $("countdown").textContent = text("t-countdown").replace("{n}", left);
  $("offline").hidden = navigator.onLine;
  if (window === shownWindow) return;
  shownWindow = window;
  try {
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, display.privateKey,
      displayMessage(display.station, display.code, window));
    if (window !== shownWindow) return;  // a later tick has moved on while this one signed
    const url = displayUrl(SETTINGS.baseUrl, display.station, display.code, window, b64url(signature));
    const code = qrcode(0, "M");  // the smallest version that holds it; medium error correction
    code.addData(url);
    code.make();
    const image = $("qr");
    image.src = code.createDataURL(8);
    image.dataset.url = url;
    image.dataset.window = String(window);
  } catch (error) {
    shownWindow = null;  // tried again at the next tick
    $("failure").hidden = false;
  }
}

/* A screen whose clock is wrong shows codes of the wrong window, which
   phones then call expired. While online, compare with the server's clock
   (the Date of a small answer, to the second) and say so on the screen. */
const CLOCK_CHECK_MS = 5 * 60 * 1000;

async function checkClock() {
  if (!navigator.onLine) return;
  try {
    const sent = Date.now();
    const response = await fetch("/favicon.ico", { method: "HEAD", cache: "no-store" });
    const received = Date.now();
    const server = Date.parse(response.headers.get("Date"));
    if (Number.isNaN(server)) return;
    // The server's Date is cut to the second: allow that and the round trip.
    const offsetS = (server + 500 - (sent + received) / 2) / 1000;
    // Half the tolerance for the screen's clock, the other half for the phones'.
    const off = Math.abs(offsetS) > Number(SETTINGS.clockToleranceS) / 2;
    $("clock-off").hidden = !off;
    if (off) $("clock-off").textContent = text("t-clock-off").replace("{n}", Math.round(Math.abs(offsetS)));
  } catch (error) {
    // No answer: the network is away; try again at the next check.
  }
}

/* Screens that sleep show nothing: ask the browser to keep this one on. */
async function keepAwake() {
  try {
    if (navigator.wakeLock) await navigator.wakeLock.request("screen");
  } catch (error) {
    // Refused (a background tab, a battery saver): the screen's own settings decide.
  }
}

async function start() {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  display = await loadDisplay();
  if (!display) {
    $("not-set-up").hidden = false;
    return;
  }
  $("station-name").textContent = display.station_name;
  $("display-name").textContent = `${display.name} · ${display.code}`;
  $("showing").hidden = false;
  await tick();
  setInterval(tick, 1000);
  checkClock();
  setInterval(checkClock, CLOCK_CHECK_MS);
  window.addEventListener("online", checkClock);
  keepAwake();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") keepAwake();
  });
}

start();
