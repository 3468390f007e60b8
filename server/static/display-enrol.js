/* Setting up a station display with a station device's credentials instead
   of a console sign-in: the enrolment code the console showed for a device
   of the station (its QR text, or the bare enr_… token), or a device token
   (dev_…). The device registers the display (POST /api/v1/displays); its
   token is used for that and not kept. */
"use strict";

async function deviceToken(credential) {
  let token = credential.trim();
  try {
    token = JSON.parse(token).token || token;  // the enrolment QR's text
  } catch (error) {
    // not JSON: a bare token
  }
  if (token.startsWith("dev_")) return token;
  const response = await fetch("/api/v1/devices/enrol", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token, app_version: "station-display/1" }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || `HTTP ${response.status}`);
  return answer.token;
}

/* The active stations the device serves, by pull (code to name). */
async function servedStations(token) {
  const stations = {};
  let cursor = null;
  for (;;) {
    const url = "/api/v1/sync/pull?limit=1000" + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    const page = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(page.detail || `HTTP ${response.status}`);
    for (const s of page.stations) if (s.status === "active") stations[s.code] = s.name;
    for (const d of page.deletions) if (d.type === "station") delete stations[d.code];
    cursor = page.cursor;
    if (!page.has_more) return stations;
  }
}

(function wireDeviceSetup() {
  const form = document.getElementById("device-setup");
  if (!form) return;
  const say = (id, why) => {
    const box = document.getElementById("device-setup-error");
    box.textContent = document.getElementById(id).textContent.replace("{why}", why || "");
    box.hidden = false;
  };
  let token = null;  // an enrolment code works once: kept while the page is open
  let keys = null;   // and the same key is sent again
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      keys = keys || await newDisplayKeys();
    } catch (error) {
      say("t-no-ed25519");
      return;
    }
    try {
      token = token || await deviceToken(document.getElementById("device-credential").value);
      const stations = await servedStations(token);
      const wanted = document.getElementById("device-station").value.trim();
      const codes = Object.keys(stations);
      const station = wanted || (codes.length === 1 ? codes[0] : null);
      if (!station) {
        say("t-which-station", codes.join(", "));
        return;
      }
      const response = await fetch("/api/v1/displays", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ station, name: document.getElementById("device-display-name").value.trim(),
          public_key: keys.publicKey }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.detail || `HTTP ${response.status}`);
      await saveDisplay({ code: answer.code, station: answer.station, station_name: answer.station_name,
        name: answer.name, public_key: keys.publicKey, privateKey: keys.privateKey,
        registered_at: answer.registered_at });
      location.reload();
    } catch (error) {
      say("t-device-setup-failed", error.message);
    }
  });
}());
