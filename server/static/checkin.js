/* The volunteer's check-in page: works offline; records first, uploads later. */
"use strict";

const $ = (id) => document.getElementById(id);
const text = (id) => $(id).textContent;

/* The station of a scanned code's page (a poster's /q/<code>?v=…, or a
   station display's /q/<code>?d=…&w=…&s=…), or null on the app's own start
   page (/app/checkin, opened from the home screen). */
function stationFromUrl() {
  if (!location.pathname.startsWith("/q/")) return null;
  const parts = location.pathname.split("/");
  const code = decodeURIComponent(parts[parts.length - 1] || "");
  const display = parseDisplayCode(new URL(location.href));
  const version = display ? null : Number(new URLSearchParams(location.search).get("v") || "0");
  return { code, version, qr: location.href, display };
}

async function refreshQueue() {
  const count = (await queuedScans()).length;
  $("queue").textContent = count ? text("t-queue").replace("{n}", count) : text("t-queue-empty");
  return count;
}

async function nextAction(station) {
  const last = await getMeta("last_scan");
  const chosen = await getMeta("chosen_action");
  if (chosen && chosen.station === station.code) return chosen.type;
  return last && last.type === "check_in" && last.station === station.code ? "check_out" : "check_in";
}

async function showAction(station) {
  const action = await nextAction(station);
  $("action-label").textContent = text(`t-${action}`);
  $("record").textContent = text(`t-${action}`);
  $("record").dataset.action = action;
}

async function showWarning(station) {
  const stations = (await getMeta("stations")) || {};
  const known = stations[station.code];
  const outdated = known && ((station.version !== null && station.version < known.qr_version)
    || known.status !== "active");
  $("offline-warning").hidden = !outdated;
}

/* A station display's code, judged here and now: its signature with the
   display keys this phone pulled (or, before it has them, as the server
   said when it served the page), its window on this phone's clock with the
   server's clock tolerance (docs/sync-protocol.md). Offline too. */
async function showDisplayStatus(station) {
  const code = station.display;
  const keys = (await getMeta("displays")) || {};
  const served = $("code-status");
  const verdict = served ? served.dataset.verdict : undefined;
  // The server's refusal stands: it knows of a revocation this phone has not pulled yet.
  let genuine = code.wellFormed && verdict !== "invalid" ? null : false;
  if (genuine === null && keys[code.display]) genuine = await verifyDisplayCode(code, keys[code.display]);
  if (genuine === null && verdict) genuine = verdict === "valid";
  const toleranceS = Number($("app").dataset.clockToleranceS);
  const current = code.wellFormed && displayWindowCurrent(code.window, Date.now(), toleranceS);
  const [state, look] = genuine === false ? ["invalid", "bad"] : !current ? ["expired", "warn"]
    : genuine ? ["current", "ok"] : ["unverified", ""];
  const box = $("display-status");
  box.textContent = text(`t-display-${state}`);
  box.className = `status ${look}`;
  box.dataset.state = state;
  box.hidden = false;
  // This phone's judgement replaces the server's of the code (not a
  // station's closing, which the server says apart).
  if (verdict) served.hidden = true;
}

async function showSummary() {
  const me = await getMeta("me");
  if (!me) return;
  $("hours").textContent = text("t-hours").replace("{h}", (me.credited_seconds / 3600).toFixed(1))
    .replace("{p}", (me.pending_seconds / 3600).toFixed(1));
  if (me.star_level !== undefined) {  // answers cached before star levels had none
    const total = me.credited_hours_total.toFixed(1);
    const next = me.hours_to_next_star === null ? ""
      : " · " + text("t-next-star").replace("{h}", me.hours_to_next_star.toFixed(1));
    $("stars").textContent = me.star_level
      ? text("t-stars").replace("{stars}", "★".repeat(me.star_level)).replace("{n}", me.star_level)
        .replace("{h}", total) + next
      : text("t-no-stars").replace("{h}", total).replace("{first}", (me.credited_hours_total
        + me.hours_to_next_star).toFixed(0));
  }
  $("recent").replaceChildren(...me.recent.map((s) => {
    const item = document.createElement("li");
    const start = s.start_at ? new Date(s.start_at).toLocaleString() : "—";
    item.textContent = `${s.station} · ${start} · ${(s.credited_seconds / 3600).toFixed(1)} h `;
    if (s.id) {  // answers cached before sessions carried their id have none
      const ask = document.createElement("button");
      ask.type = "button";
      ask.className = "ask";
      ask.textContent = text("t-ask");
      ask.addEventListener("click", () => openCorrection(s));
      item.append(ask);
    }
    return item;
  }));
}

/* A sync that did not finish (no network, the server away or busy) is tried
   again while the page is open: after 2 s, then twice as long each time, at
   most a minute apart. Otherwise the queue and the reference data would wait
   for the next scan or the next "online" event, which may never come. */
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 60000;
let retryDelay = RETRY_FIRST_MS;
let retryTimer = null;

function syncAgainLater(station) {
  if (retryTimer) return;
  retryTimer = setTimeout(() => { retryTimer = null; syncNow(station); }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}

/* Worth trying again: a timeout, too many requests, or the server's fault.
   Other refusals (a revoked phone, say) would only be refused again. */
const worthRetrying = (status) => status === 408 || status === 429 || status >= 500;

async function syncNow(station) {
  if (!navigator.onLine) {
    // Tried again later even so: not every browser says when it is back online.
    syncAgainLater(station);
    return;
  }
  let failed;
  try {
    const pushed = await pushOnce();
    const pulled = await pullReference();
    failed = (pushed && pushed.status) ?? pulled;
    const token = await getMeta("token");
    const response = await fetch("/api/v1/volunteer/me", { headers: { Authorization: `Bearer ${token}` } });
    if (response.ok) await setMeta("me", await response.json());
    await sendCorrections(token);
  } catch (error) {
    failed = 0; // no answer at all: offline, or the server is away
  }
  if (failed === undefined) retryDelay = RETRY_FIRST_MS;
  else if (failed === 0 || worthRetrying(failed)) syncAgainLater(station);
  await refreshQueue();
  await showSummary();
  await showCorrections();
  if (station) await showWarning(station);
  if (station && station.display) await showDisplayStatus(station);
}

/* Reference data for offline checks: station versions and station
   displays' keys, by pull.
   Returns the HTTP status of a refused page, nothing when all went in. */
async function pullReference() {
  const token = await getMeta("token");
  const stations = (await getMeta("stations")) || {};
  const displays = (await getMeta("displays")) || {};
  let cursor = await getMeta("pull_cursor");
  for (;;) {
    const url = "/api/v1/sync/pull?limit=1000" + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) return response.status;
    const page = await response.json();
    for (const s of page.stations) stations[s.code] = { name: s.name, qr_version: s.qr_version, status: s.status };
    for (const d of page.displays || []) displays[d.code] = { station: d.station, public_key: d.public_key };
    for (const d of page.deletions) {
      if (d.type === "station") delete stations[d.code];
      if (d.type === "display") delete displays[d.code];
    }
    await setMeta("stations", stations);
    await setMeta("displays", displays);
    await setMeta("pull_cursor", page.cursor);
    cursor = page.cursor;
    if (!page.has_more) return;
  }
}

/* Some browsers run no service worker: WeChat's own on iPhones (where most
   volunteers open a scanned code), private windows. There the page cannot
   open without a network; scans are still kept in IndexedDB and sent while
   the page is open or when it is next opened. The page says how to get the
   offline page: the system browser, then the home screen. */
async function registerServiceWorker() {
  let registration = null;
  if ("serviceWorker" in navigator) {
    registration = await navigator.serviceWorker.register("/sw.js").catch(() => null);
  }
  $("no-offline").hidden = Boolean(registration);
}

async function start() {
  registerServiceWorker();
  const station = stationFromUrl();
  if (station && station.display) {
    await showDisplayStatus(station);
    // A page left open: its code grows old while it waits for the tap.
    setInterval(() => showDisplayStatus(station), 5000);
  }
  const stations = (await getMeta("stations")) || {};
  if (!station) $("station-name").textContent = document.title;
  else if (!text("station-name") && stations[station.code]) $("station-name").textContent = stations[station.code].name;
  const token = await getMeta("token");
  if (!token) {
    $("enrol").hidden = false;
    $("enrol-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch("/api/v1/volunteer/enrol", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ person: $("person-code").value.trim(), code: $("one-time-code").value.trim() }),
      });
      if (!response.ok) {
        $("enrol-error").textContent = text("t-enrol-failed");
        $("enrol-error").hidden = false;
        return;
      }
      const answer = await response.json();
      await setMeta("token", answer.token);
      await setMeta("person", { code: answer.person, name: answer.name });
      location.reload();
    });
    return;
  }
  const person = await getMeta("person");
  $("who").textContent = `${person.name} (${person.code})`;
  window.addEventListener("online", () => syncNow(station));
  wireCorrections(station, syncNow);
  if (station) await wireScanning(station, person);
  else $("scan-hint").hidden = false;  // the start page: scans begin at a station's code
  $("scan-actions").hidden = !station;
  $("scanner").hidden = false;
  if (station) await showWarning(station);
  await refreshQueue();
  await showSummary();
  await showCorrections();
  syncNow(station);
}

async function wireScanning(station, person) {
  $("switch").addEventListener("click", async () => {
    const current = $("record").dataset.action;
    await setMeta("chosen_action", { station: station.code, type: current === "check_in" ? "check_out" : "check_in" });
    await showAction(station);
  });
  $("record").addEventListener("click", async () => {
    const type = $("record").dataset.action;
    await enqueueScan({ type, person: person.code, qr: station.qr, stationCode: station.code });
    await setMeta("chosen_action", null);
    $("recorded").hidden = false;
    await refreshQueue();
    await showAction(station);
    if ("serviceWorker" in navigator && navigator.serviceWorker.ready) {
      navigator.serviceWorker.ready.then((reg) => reg.sync && reg.sync.register("push-queue")).catch(() => {});
    }
    syncNow(station);
  });
  // The scanner is shown once its button says what a tap records and
  // answers it: shown first, it was blank (and dead) while IndexedDB answered.
  await showAction(station);
}

start();
