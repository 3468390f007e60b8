/* The console's "set up this screen as a display": make the key pair here,
   register the public key, keep the private key in this browser, show the code. */
"use strict";

const form = document.getElementById("display-setup");
let keys = null;  // kept while the page is open: asking again sends the same key

function fail(why) {
  const box = document.getElementById("setup-error");
  box.textContent = document.getElementById("t-setup-failed").textContent.replace("{why}", why);
  box.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const settings = form.dataset;
  try {
    keys = keys || await newDisplayKeys();
  } catch (error) {
    fail(document.getElementById("t-no-ed25519").textContent);
    return;
  }
  let response;
  try {
    response = await fetch(settings.url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": settings.csrf },
      body: JSON.stringify({ name: document.getElementById("display-name").value.trim(),
        public_key: keys.publicKey }),
    });
  } catch (error) {
    fail(navigator.onLine ? String(error) : "offline");
    return;
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    fail(answer.detail || `HTTP ${response.status}`);
    return;
  }
  await saveDisplay({ code: answer.code, station: answer.station, station_name: answer.station_name,
    name: answer.name, public_key: keys.publicKey, privateKey: keys.privateKey,
    registered_at: answer.registered_at });
  location.assign(settings.displayPage);
});
