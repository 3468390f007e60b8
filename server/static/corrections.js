/* Correction requests (更正申请) from the volunteer's own phone.

   A request is written into this phone's outbox first and sent from there,
   so one written offline goes when the network returns, and one whose
   answer was lost is sent again under the same id (the server stores it
   once). The answers are read back on every sync. */
"use strict";

const OUTBOX = "corrections_outbox";

function localInputValue(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
    `T${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
}

/* Open the form: about one of the recent sessions, or (session null) about
   service that left no session at all, at this page's station. */
function openCorrection(session, stationCode) {
  $("c-session").value = session ? session.id : "";
  $("c-station-row").hidden = Boolean(session);
  $("c-station").value = session ? "" : stationCode || "";
  $("c-start").value = localInputValue(session && session.start_at);
  $("c-end").value = localInputValue(session && session.end_at);
  $("c-message").value = "";
  $("correction").hidden = false;
  $("c-message").focus();
}

async function queueCorrection() {
  const request = { id: crypto.randomUUID(), message: $("c-message").value.trim() };
  if ($("c-session").value) request.session = $("c-session").value;
  else request.station = $("c-station").value.trim();
  if ($("c-start").value) request.start_at = new Date($("c-start").value).toISOString();
  if ($("c-end").value) request.end_at = new Date($("c-end").value).toISOString();
  const outbox = (await getMeta(OUTBOX)) || [];
  outbox.push(request);
  await setMeta(OUTBOX, outbox);
  $("correction").hidden = true;
  return request.id;
}

function showCorrectionStatus(message, ok) {
  $("correction-status").textContent = message;
  $("correction-status").className = `status ${ok ? "ok" : "warn"}`;
  $("correction-status").hidden = false;
}

/* Send what the outbox holds. A refusal (a 4xx other than 408/429) drops
   the request and says why; no answer keeps it for the next sync. */
async function sendCorrections(token) {
  const outbox = (await getMeta(OUTBOX)) || [];
  const kept = [];
  for (const request of outbox) {
    let response;
    try {
      response = await fetch("/api/v1/volunteer/corrections", {
        method: "POST", body: JSON.stringify(request),
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      });
    } catch (error) {
      kept.push(request);
      continue;
    }
    if (response.ok) continue;
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      kept.push(request);
      continue;
    }
    const problem = await response.json().catch(() => ({}));
    showCorrectionStatus(text("t-correction-refused").replace("{why}", problem.detail || response.status), false);
  }
  await setMeta(OUTBOX, kept);
  if (kept.length < outbox.length && text("correction-status") === text("t-correction-queued")) {
    showCorrectionStatus(text("t-correction-sent"), true);  // what waited offline has gone
  }
  const answers = await fetch("/api/v1/volunteer/corrections", { headers: { Authorization: `Bearer ${token}` } });
  if (answers.ok) await setMeta("corrections", await answers.json());
}

async function showCorrections() {
  const sent = (await getMeta("corrections")) || [];
  const unsent = ((await getMeta(OUTBOX)) || []).filter((r) => !sent.some((s) => s.id === r.id));
  const line = (request, status) => {
    const item = document.createElement("li");
    const answer = request.answer ? ` · ${request.answer}` : "";
    item.textContent = `${request.message} · ${status}${answer}`;
    return item;
  };
  $("corrections").replaceChildren(
    ...unsent.map((r) => line(r, text("t-correction-unsent"))),
    ...sent.map((r) => line(r, text(`t-correction-${r.status}`))));
}

function wireCorrections(station, syncNow) {
  $("ask-missing").addEventListener("click", () => openCorrection(null, station && station.code));
  $("c-cancel").addEventListener("click", () => { $("correction").hidden = true; });
  $("correction").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = await queueCorrection();
    await showCorrections();
    await syncNow(station);
    const sent = ((await getMeta("corrections")) || []).some((r) => r.id === id);
    const waiting = ((await getMeta(OUTBOX)) || []).some((r) => r.id === id);
    if (sent) showCorrectionStatus(text("t-correction-sent"), true);
    else if (waiting) showCorrectionStatus(text("t-correction-queued"), false);
  });
}
