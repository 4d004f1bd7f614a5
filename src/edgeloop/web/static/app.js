// The live dashboard: polls the site's REST API with the token the user gives; never puts data into HTML.
"use strict";
const api = "/api/v1";
let token = localStorage.getItem("edgeloop-token") || "";
let who = localStorage.getItem("edgeloop-who") || "";

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function when(ts) {
  return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19);
}

async function get(path) {
  const response = await fetch(api + path, { headers: { Authorization: "Bearer " + token } });
  if (!response.ok) throw new Error(path + ": " + response.status + " " + (await response.text()));
  return response.json();
}

async function answer(decision, verb) {
  const response = await fetch(`${api}/approvals/${decision}/${verb}`, {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ by: who || "dashboard", why: "from the dashboard" }),
  });
  const body = await response.json();
  const said = document.getElementById("last-action");
  said.textContent = `${verb} ${decision.slice(0, 8)}: ` + (response.ok ? body.status : body.detail);
  said.className = response.ok ? "" : "error";
  refresh();
}

function setStatus(text, error) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = error ? "error" : "";
}

async function refresh() {
  if (!token) return;
  try {
    const [health, decisionPage, approvalPage] = await Promise.all([get("/health"), get("/decisions?limit=20"), get("/approvals")]);
    const decisions = decisionPage.items, approvals = approvalPage.items;
    document.getElementById("site").textContent = health.site;
    document.getElementById("n-decisions").textContent = decisions.length >= 20 ? "20+" : String(decisions.length);
    document.getElementById("n-pending").textContent = String(approvals.length);
    const dBody = document.querySelector("#decisions tbody");
    dBody.replaceChildren();
    for (const d of decisions) {
      const row = dBody.insertRow();
      row.dataset.decision = d.id;
      cell(row, when(d.ts)); cell(row, d.device); cell(row, d.score.toFixed(3));
      cell(row, d.status, "status-" + d.status); cell(row, d.reason);
    }
    const aBody = document.querySelector("#approvals tbody");
    aBody.replaceChildren();
    for (const a of approvals) {
      const row = aBody.insertRow();
      row.dataset.decision = a.decision;
      const command = a.command;
      cell(row, a.device); cell(row, command.name + " " + JSON.stringify(command.args));
      cell(row, when(a.requested)); cell(row, a.decision.slice(0, 8));
      const buttons = cell(row, "");
      for (const verb of ["approve", "reject"]) {
        const button = document.createElement("button");
        button.textContent = verb;
        button.addEventListener("click", () => answer(a.decision, verb));
        buttons.appendChild(button);
      }
    }
    setStatus("live: updated " + new Date().toLocaleTimeString(), false);
  } catch (err) {
    setStatus(String(err.message || err), true);
  }
}

async function refreshSlow() {
  if (!token) return;
  try {
    const roi = await get("/roi");
    document.getElementById("net-value").textContent = `${Math.round(Number(roi.realized_net_value)).toLocaleString()} ${roi.currency}`;
    const u = roi.uplift.net_value;
    document.getElementById("uplift").textContent = u.conclusive
      ? `${u.per_device_day.toFixed(0)} ${roi.currency}/device-day` : "no claim yet";
  } catch (err) { document.getElementById("net-value").textContent = "-"; }
  try {
    const audit = await get("/audit/verify");
    document.getElementById("audit").textContent = audit.ok ? `OK, ${audit.records} records` : `BROKEN at ${audit.first_bad}`;
  } catch (err) { document.getElementById("audit").textContent = "-"; }
}

// Live: read the API's Server-Sent Events with fetch (EventSource cannot send the token) and refresh on each.
let stream = null;
async function listen() {
  if (stream) stream.abort();
  stream = new AbortController();
  try {
    const response = await fetch(api + "/events", { headers: { Authorization: "Bearer " + token }, signal: stream.signal });
    if (!response.ok) throw new Error("events: " + response.status);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const kind = (buffer.slice(0, end).match(/^event: (.*)$/m) || [])[1];
        buffer = buffer.slice(end + 2);
        if (kind === "decision" || kind === "approvals") refresh();
      }
    }
  } catch (err) {
    if (err.name === "AbortError") return;
    setStatus(String(err.message || err), true);
  }
  setTimeout(listen, 2000);  // reconnect
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value.trim();
  who = document.getElementById("who").value.trim();
  localStorage.setItem("edgeloop-token", token);
  localStorage.setItem("edgeloop-who", who);
  refresh(); refreshSlow(); listen();
});
setInterval(refreshSlow, 10000);
if (token) { refresh(); refreshSlow(); listen(); }
