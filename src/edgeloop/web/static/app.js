// The live dashboard: one page, plain JavaScript, nothing fetched from elsewhere. It reads the site's REST API
// with the token a login gave it, follows the API's Server-Sent Events (no polling), and writes data into the
// page as text only, never as HTML.
"use strict";
const api = "/api/v1";
const SPARK_POINTS = 60;
const ANOMALOUS = 0.9;
// The one health vocabulary of every page (as the API's device state says it), each word with what it means.
const HEALTH = {
  ok: "every metric's newest anomaly score is below 0.9",
  anomalous: "a metric's newest anomaly score is 0.9 or more",
  down: "the device's newest event is a failure: down until it is repaired",
  unknown: "no recent reading from the device, so no score yet",
};
const state = {
  token: sessionStorage.getItem("edgeloop-token") || "",
  me: null, // {who, role}
  devices: new Map(), // device -> {row, metrics: Map(metric -> {values, cells})}
  stream: null,
  device: null, // the device whose page is open
};

// -- small helpers -----------------------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function when(ts) { // every time on the page: UTC, to the second; headers say whether data or wall time
  return ts == null ? "-" : new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19);
}

function deviceLink(device) {
  const a = document.createElement("a");
  a.href = "#device/" + encodeURIComponent(device);
  a.textContent = device;
  return a;
}

function linkCell(row, device) {
  const td = row.insertCell();
  td.appendChild(deviceLink(device));
  return td;
}

function healthWord(el, health) {
  el.textContent = health;
  el.title = `${health}: ${HEALTH[health] || ""}`;
  el.className = "health-" + health;
}

function money(value, currency) {
  return `${Math.round(Number(value)).toLocaleString("en")} ${currency}`;
}

function say(text, info) {
  const box = $("message");
  box.textContent = text;
  box.className = info ? "info" : "";
  box.hidden = !text;
}

class ApiError extends Error {
  constructor(status, problem) {
    super(`${status}: ${problem.detail || problem.title || "error"}`);
    this.status = status;
  }
}

async function call(method, path, body) {
  const headers = { Authorization: "Bearer " + state.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (response.status === 401 && state.token) loggedOut("Your session ended: log in again.");
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
const get = (path) => call("GET", path);

// -- log in and out ----------------------------------------------------------------------------------------
async function start(token) {
  state.token = token;
  try {
    state.me = await get("/me");
  } catch (err) {
    state.token = "";
    say(err.status === 401 ? "Wrong user name, password or token." : String(err.message));
    return;
  }
  sessionStorage.setItem("edgeloop-token", token);
  say("");
  $("me").textContent = `${state.me.who.replace(/^user /, "")} (${state.me.role})`;
  $("logout").hidden = false;
  $("nav").hidden = false;
  document.body.dataset.role = state.me.role;
  $("role-note").textContent = state.me.role === "viewer"
    ? "You are a viewer: approving and rejecting need the operator role." : "";
  if (!location.hash || location.hash === "#login") location.hash = "#fleet";
  show();
  refreshAll();
  listen();
}

function loggedOut(text) {
  if (state.stream) state.stream.abort();
  state.stream = null;
  state.token = "";
  state.me = null;
  sessionStorage.removeItem("edgeloop-token");
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("me").textContent = "";
  setLive(false, "offline");
  say(text || "");
  show();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch(api + "/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: $("user").value.trim(), password: $("password").value }),
  });
  const body = await response.json().catch(() => ({}));
  $("password").value = "";
  if (!response.ok) { say(body.detail || `login failed (${response.status})`); return; }
  start(body.token);
});

$("token-login").addEventListener("submit", (event) => {
  event.preventDefault();
  start($("token").value.trim());
  $("token").value = "";
});

$("logout").addEventListener("click", async () => {
  if (state.token.startsWith("els_")) await call("POST", "/logout").catch(() => null);
  loggedOut("Logged out.");
});

// -- pages -------------------------------------------------------------------------------------------------
const PAGES = ["fleet", "site", "device", "decisions", "roi", "audit"];

function show() {
  const [wanted, arg] = location.hash.slice(1).split("/");
  const page = !state.me ? "login" : PAGES.includes(wanted) && (wanted !== "device" || arg) ? wanted : "fleet";
  for (const section of document.querySelectorAll("section.page")) section.hidden = section.id !== "page-" + page;
  const tab = page === "device" ? "site" : page; // a device page belongs to its site's
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === tab);
  state.device = page === "device" ? decodeURIComponent(arg) : null;
  if (page === "device") openDevice(state.device).catch((err) => say(err.message));
  else deviceOpened += 1; // a device page still loading stops
  if (page === "roi") refreshRoi();
  if (page === "audit") refreshAudit();
}
window.addEventListener("hashchange", show);

// -- fleet overview ----------------------------------------------------------------------------------------
async function refreshFleet() {
  const [sites, anomalies] = await Promise.all([get("/sites"), get("/anomalies?limit=10")]);
  const body = $("sites").tBodies[0];
  body.replaceChildren();
  for (const s of sites.items) {
    const row = body.insertRow();
    for (const v of [s.site, s.autonomy, s.devices, s.decisions, s.pending_approvals, s.commands_acked, s.failures,
      s.quarantined]) cell(row, String(v));
    $("site").textContent = s.site;
    $("site-name").textContent = s.site;
    $("n-decisions").textContent = String(s.decisions);
    setPending(s.pending_approvals);
  }
  const list = $("anomalies").tBodies[0];
  list.replaceChildren();
  for (const a of anomalies.items) {
    const row = list.insertRow();
    linkCell(row, a.device); cell(row, a.metric); cell(row, when(a.start)); cell(row, when(a.end));
    cell(row, String(a.points)); cell(row, a.peak_score.toFixed(3), "health-anomalous"); cell(row, a.peak_value.toFixed(2));
  }
}

function setPending(n) {
  $("n-pending").textContent = String(n);
  $("nav-pending").textContent = String(n);
  $("nav-pending").hidden = n === 0;
}

function healthCounts() {
  const counts = { ok: 0, anomalous: 0, down: 0, unknown: 0 };
  for (const d of state.devices.values()) counts[d.health] += 1;
  $("n-devices").textContent = String(state.devices.size);
  $("n-anomalous").textContent = String(counts.anomalous);
  const words = Object.keys(HEALTH).map((h) => {
    const span = document.createElement("span");
    healthWord(span, h);
    span.textContent = `${counts[h]} ${h}`;
    if (counts[h] === 0) span.classList.add("none");
    return span;
  });
  $("n-health").replaceChildren(...words.flatMap((w, i) => (i ? [", ", w] : [w])));
}

async function refreshHeadline() { // the ledger's report takes a while on a busy site: the audit card does not wait
  await Promise.all([refreshNetValue(), refreshAuditCard()]);
}

async function refreshNetValue() {
  try {
    const roi = await get("/roi");
    const rows = new Map(roi.headline.rows);
    const value = rows.get("value to date") || rows.get("measured value") || "-";
    $("net-value").textContent = value;
    $("net-value").classList.toggle("negative", value.startsWith("-"));
    $("uplift").textContent = rows.has("95% interval") ? `95% interval ${rows.get("95% interval")}` : "";
  } catch (err) { $("net-value").textContent = "-"; $("uplift").textContent = err.status === 404 ? "no ledger yet" : ""; }
}

async function refreshAuditCard() {
  try {
    const audit = await get("/audit/verify");
    $("audit-card").textContent = audit.ok ? `OK, ${audit.records} records` : `BROKEN at ${audit.first_bad}`;
    $("audit-card").className = audit.ok ? "ok" : "bad";
  } catch (err) { $("audit-card").textContent = "-"; }
}

// -- site page: devices with live sparklines ---------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";

function sparkline() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${SPARK_POINTS - 1} 24`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.appendChild(document.createElementNS(SVG, "polyline"));
  return svg;
}

function drawSpark(svg, values, hot) {
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || 1;
  const step = values.length > 1 ? (SPARK_POINTS - 1) / (values.length - 1) : 0; // the readings so far span it
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(22 - ((v - lo) / span) * 20).toFixed(1)}`).join(" ");
  svg.firstChild.setAttribute("points", points);
  svg.classList.toggle("hot", hot);
}

function deviceEntry(d) {
  let entry = state.devices.get(d.device);
  if (entry) {
    if (d.asset_type) entry.cells.type.textContent = d.asset_type;
    return entry;
  }
  const body = $("devices").tBodies[0];
  const after = [...body.rows].findIndex((r) => r.dataset.device > d.device); // rows stay in name order
  const row = body.insertRow(after);
  row.dataset.device = d.device;
  linkCell(row, d.device);
  const type = cell(row, d.asset_type);
  const health = cell(row, "");
  const readings = cell(row, "", "readings");
  const score = cell(row, "-");
  const last = cell(row, "-");
  entry = { row, health: "unknown", cells: { type, health, readings, score, last }, metrics: new Map(), scores: new Map() };
  state.devices.set(d.device, entry);
  return entry;
}

function setHealth(entry, health) {
  entry.health = health;
  healthWord(entry.cells.health, health);
}

function metricEntry(entry, metric) {
  let m = entry.metrics.get(metric);
  if (m) return m;
  const box = document.createElement("span");
  box.className = "reading";
  box.dataset.metric = metric;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = metric;
  const svg = sparkline();
  const value = document.createElement("span");
  value.className = "value";
  box.append(name, svg, value);
  entry.cells.readings.appendChild(box);
  m = { values: [], svg, value };
  entry.metrics.set(metric, m);
  return m;
}

function reading(entry, metric, t, value, score) {
  const m = metricEntry(entry, metric);
  m.values.push(value);
  if (m.values.length > SPARK_POINTS) m.values.shift();
  const unit = entry.units && entry.units[metric] && entry.units[metric].unit;
  m.value.textContent = Number(value).toFixed(2) + (unit ? " " + unit : "");
  drawSpark(m.svg, m.values, score >= ANOMALOUS);
  entry.scores.set(metric, score);
  const worst = Math.max(...entry.scores.values());
  entry.cells.score.textContent = worst.toFixed(3);
  entry.cells.score.className = worst >= ANOMALOUS ? "health-anomalous" : "";
  if (entry.health !== "down") setHealth(entry, worst >= ANOMALOUS ? "anomalous" : "ok");
}

async function refreshDevices() {
  let offset = 0, total = 1;
  while (offset < total) {
    const page = await get(`/devices?limit=500&offset=${offset}`);
    total = page.total;
    offset += page.items.length;
    for (const d of page.items) {
      const entry = deviceEntry(d);
      entry.units = (d.meta && d.meta.metrics) || {};
      setHealth(entry, d.state.health);
      for (const [metric, r] of Object.entries(d.state.metrics)) {
        if (!entry.metrics.has(metric)) reading(entry, metric, r.t, r.value, r.score);
      }
      if (d.state.health === "down") setHealth(entry, "down");
      const last = d.last_decision;
      entry.cells.last.textContent = last ? `${last.status} (${when(last.ts)})` : "-";
      entry.cells.last.className = last ? "status-" + last.status : "";
    }
    if (page.items.length === 0) break;
  }
  healthCounts();
}

function onReadings(data) {
  for (const [device, metrics] of Object.entries(data)) {
    const entry = state.devices.get(device) || deviceEntry({ device, asset_type: "" });
    for (const [metric, [t, value, score]] of Object.entries(metrics)) {
      reading(entry, metric, t, value, score);
      if (device === state.device) liveReading(metric, t, value, score);
    }
  }
  healthCounts();
}

// -- device page: its history from the store, anomaly spans, decisions and events, live readings ----------
let deviceCharts = new Map(); // metric -> chart (Charts.metric)
let deviceOpened = 0; // which opening of a device page is the current one

const EVENT_WORDS = { failure: "failure", repaired: "repaired", inspection: "inspection",
  maintenance_started: "maintenance", maintenance_done: "maintenance done" };

async function openDevice(device) {
  const name = encodeURIComponent(device);
  const mine = ++deviceOpened;
  for (const chart of deviceCharts.values()) chart.plot.destroy();
  deviceCharts = new Map();
  $("device-name").textContent = device;
  $("device-charts").replaceChildren();
  $("device-timeline").tBodies[0].replaceChildren();
  const [d, decisions, events] = await Promise.all([get(`/devices/${name}`),
    get(`/decisions?device=${name}&limit=200`), get(`/devices/${name}/events?limit=200`)]);
  if (mine !== deviceOpened) return; // opened again, or left, meanwhile
  $("device-type").textContent = d.asset_type || "";
  healthWord($("device-health"), d.state.health);
  const marks = [
    ...decisions.items.map((x) => ({ ts: x.ts, kind: "decision status-" + x.status, label: x.status.replaceAll("_", " "),
      text: `decision ${x.status}, score ${x.score.toFixed(3)}: ${x.reason || x.rule}` })),
    ...events.items.map((e) => ({ ts: e.ts, kind: "event event-" + e.kind, label: EVENT_WORDS[e.kind] || e.kind,
      text: `${e.kind}${e.detail && e.detail.reason ? " (" + e.detail.reason + ")" : ""}` })),
  ];
  const metrics = Object.entries((d.meta && d.meta.metrics) || {});
  for (const m of Object.keys(d.state.metrics)) if (!metrics.some(([k]) => k === m)) metrics.push([m, {}]);
  if (metrics.length === 0) $("device-charts").textContent = "No metrics described or read yet.";
  const histories = await Promise.all(metrics.map(([metric]) =>
    get(`/devices/${name}/telemetry/${encodeURIComponent(metric)}?points=400`)));
  if (mine !== deviceOpened) return;
  metrics.forEach(([metric, meta], i) => {
    const figure = document.createElement("figure");
    figure.className = "chart";
    figure.dataset.metric = metric;
    const caption = document.createElement("figcaption");
    const scale = meta.low != null && meta.high != null ? `, range ${meta.low} to ${meta.high}` : "";
    caption.textContent = `${metric}${meta.unit ? " (" + meta.unit + ")" : ""}${scale}`;
    const area = document.createElement("div");
    figure.append(caption, area);
    $("device-charts").appendChild(figure);
    deviceCharts.set(metric, Charts.metric(area, { buckets: histories[i].buckets, unit: meta.unit, low: meta.low,
      high: meta.high, level: ANOMALOUS, marks, when }));
  });
  const body = $("device-timeline").tBodies[0];
  for (const m of marks.sort((a, b) => b.ts - a.ts)) {
    const row = body.insertRow();
    cell(row, when(m.ts)); cell(row, m.label, m.kind.split(" ").slice(1).join(" ")); cell(row, m.text, "reason");
  }
  if (marks.length === 0) cell(body.insertRow(), "No decisions or events yet.").colSpan = 3;
}

function liveReading(metric, t, value, score) {
  const chart = deviceCharts.get(metric);
  if (chart) chart.add(t, value, score);
}

// -- decisions and approvals -------------------------------------------------------------------------------
function commandText(c) {
  return `${c.name} ${Object.entries(c.args).map(([k, v]) => `${k}=${v}`).join(" ")}`;
}

const STATUS_WORDS = { done: "acked", sent: "sent, waiting for ack", rejected: "rejected by device", timed_out: "no ack" };

function metricsText(metrics) { // each metric's score, highest first (as the API orders them)
  return Object.entries(metrics || {}).map(([m, v]) => `${m} ${Number(v).toFixed(2)}`).join(", ") || "-";
}

function scoreText(score) {
  return score == null ? "-" : Number(score).toFixed(3);
}

// The confirmation step: what is approved or rejected, and the operator's why, before anything is sent.
let answering = null; // {approval, verb, buttons}

function askWhy(approval, verb, buttons) {
  answering = { approval, verb, buttons };
  $("answer-title").textContent = `${verb === "approve" ? "Approve" : "Reject"} ${commandText(approval.command)} `
    + `on ${approval.device}?`;
  $("answer-what").textContent = `decided ${when(approval.ts)} (data time); score ${scoreText(approval.score)}; `
    + `${metricsText(approval.metrics)}; rule ${approval.rule || "-"}: ${approval.reason || "-"}`;
  $("answer-why").value = "";
  $("answer-confirm").textContent = verb;
  $("answer-confirm").className = verb;
  $("answer-dialog").showModal();
  $("answer-why").focus();
}

$("answer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const asked = answering;
  answering = null;
  $("answer-dialog").close();
  if (asked) answer(asked.approval.decision, asked.verb, asked.buttons, $("answer-why").value.trim());
});
$("answer-cancel").addEventListener("click", () => { answering = null; $("answer-dialog").close(); });

async function answer(decision, verb, buttons, why) {
  for (const b of buttons) b.disabled = true;
  try { // the API signs the answer with who is logged in, and refuses (409, with the reason) a closed approval
    const result = await call("POST", `/approvals/${decision}/${verb}`, { why });
    say(`${verb} ${decision.slice(0, 8)}: ${result.status}`, true);
  } catch (err) {
    say(`${verb} ${decision.slice(0, 8)}: ${err.message}`);
    for (const b of buttons) b.disabled = false;
  }
  refreshDecisions();
}

function answerText(a) { // "approved", "rejected", or "expired: device failed"
  return a.state === "expired" ? `expired: ${a.why || "no answer in time"}` : a.answer;
}

async function refreshDecisions() {
  const [pending, answered, decisions] = await Promise.all([
    get("/approvals?limit=200"), get("/approvals?include_answered=true&limit=50"), get("/decisions?limit=30")]);
  setPending(pending.total);
  const mayAnswer = state.me && state.me.role !== "viewer";
  const aBody = $("approvals").tBodies[0];
  aBody.replaceChildren();
  for (const a of pending.items) {
    const row = aBody.insertRow();
    row.dataset.decision = a.decision;
    linkCell(row, a.device); cell(row, commandText(a.command)); cell(row, scoreText(a.score));
    cell(row, metricsText(a.metrics), "metrics"); cell(row, `${a.rule || "-"}: ${a.reason || "-"}`, "reason");
    cell(row, `${when(a.ts)}\nasked ${when(a.requested)}`, "times"); cell(row, a.decision.slice(0, 8));
    const actions = cell(row, mayAnswer ? "" : "operators only");
    if (!mayAnswer) continue;
    const buttons = ["approve", "reject"].map((verb) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = verb;
      button.className = verb;
      return button;
    });
    for (const b of buttons) b.addEventListener("click", () => askWhy(a, b.textContent, buttons));
    actions.append(...buttons);
  }
  const nBody = $("answered").tBodies[0];
  nBody.replaceChildren();
  for (const a of answered.items.filter((x) => x.answer)) { // closed: no buttons, only what happened and why
    const row = nBody.insertRow();
    row.dataset.decision = a.decision;
    linkCell(row, a.device); cell(row, commandText(a.command)); cell(row, when(a.ts));
    cell(row, answerText(a), "answer status-" + a.state); cell(row, a.by || "-");
    cell(row, a.state === "expired" ? "-" : a.why || "-", "reason");
    const status = a.command_status;
    cell(row, status ? STATUS_WORDS[status] || status : "-", "command-status" + (status ? " status-" + status : ""));
    cell(row, when(a.answered), "wall");
  }
  const dBody = $("decisions").tBodies[0];
  dBody.replaceChildren();
  const answers = new Map(answered.items.filter((x) => x.answer).map((x) => [x.decision, x.answer]));
  for (const d of decisions.items) {
    const row = dBody.insertRow();
    row.dataset.decision = d.id;
    cell(row, when(d.ts)); linkCell(row, d.device); cell(row, d.score.toFixed(3));
    const answer = answers.get(d.id); // the record stays as decided; what the operator said since is shown beside it
    cell(row, answer ? `${d.status}: ${answer}` : d.status, "status-" + (answer || d.status)); cell(row, d.reason, "reason");
  }
}

// -- ROI and audit pages -----------------------------------------------------------------------------------
let roiPlots = [];

async function refreshRoi() {
  if (!state.me) return;
  const cards = $("roi-cards");
  try {
    const [r, series] = await Promise.all([get("/roi"), get("/roi/series")]);
    cards.replaceChildren();
    // every figure and label comes from the ledger's one headline (edgeloop.ledger.headline)
    for (const [title, text] of r.headline.rows) {
      const card = document.createElement("div");
      card.className = "card";
      const tip = (r.headline.glossary || {})[title]; // the glossary's words, as in docs/ledger.md
      if (tip) card.title = tip;
      const h = document.createElement("h2");
      h.textContent = title;
      const p = document.createElement("p");
      p.textContent = text;
      if (text.startsWith("-")) p.className = "negative";
      card.append(h, p);
      cards.appendChild(card);
    }
    $("roi-note").textContent = r.headline.verdict;
    for (const plot of roiPlots) plot.destroy();
    roiPlots = Charts.roi($("roi-plots"), series, when);
  } catch (err) {
    $("roi-note").textContent = err.message;
  }
}

async function refreshAudit() {
  if (!state.me) return;
  try {
    const [check, records] = await Promise.all([get("/audit/verify"), get("/audit/records?limit=25")]);
    $("audit-ok").textContent = check.ok ? "holds" : `broken at ${check.first_bad}`;
    $("audit-ok").className = check.ok ? "ok" : "bad";
    $("audit-records").textContent = String(check.records);
    $("audit-checkpoints").textContent = String(check.checkpoints);
    $("audit-problem").textContent = check.problem || "Every record's hash, signature and link to the one before were checked.";
    const body = $("audit-log").tBodies[0];
    body.replaceChildren();
    for (const r of records.items) {
      const row = body.insertRow();
      const b = r.body || {};
      cell(row, String(r.seq)); cell(row, b.ts == null ? "-" : when(b.ts)); cell(row, when(r.ts), "wall"); cell(row, r.kind);
      cell(row, b.device || b.decision || b.id || "-"); cell(row, (r.hash || "").slice(0, 16));
    }
  } catch (err) {
    $("audit-problem").textContent = err.message;
  }
}

// -- live: the API's Server-Sent Events, read with fetch (EventSource cannot send the token) ---------------
function setLive(on, text) {
  $("live").textContent = text;
  $("live").className = "live " + (on ? "on" : "off");
}

let refreshTimer = null, decided = false;
function refreshSoon(decision) { // one refresh per burst of events
  decided = decided || decision;
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    const all = decided;
    refreshTimer = null;
    decided = false;
    refreshDecisions().catch((err) => say(err.message));
    refreshFleet().catch((err) => say(err.message));
    if (all) { refreshDevices().catch((err) => say(err.message)); refreshHeadline(); }
  }, 200);
}

async function listen() {
  if (state.stream) state.stream.abort();
  const controller = new AbortController();
  state.stream = controller;
  try {
    const response = await fetch(api + "/events", { headers: { Authorization: "Bearer " + state.token }, signal: controller.signal });
    if (!response.ok) throw new Error("events: " + response.status);
    setLive(true, "live");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const kind = (block.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
        if (kind === "readings") onReadings(data);
        else if (kind === "decision") refreshSoon(true);
        else if (kind === "approvals") { setPending(data.pending); refreshSoon(false); }
      }
    }
  } catch (err) {
    if (err.name === "AbortError") return;
  }
  if (state.stream !== controller) return;
  setLive(false, "reconnecting");
  setTimeout(() => { if (state.stream === controller) listen(); }, 2000);
}

async function refreshAll() {
  try {
    await Promise.all([refreshFleet(), refreshDevices(), refreshDecisions(), refreshHeadline()]);
  } catch (err) {
    say(String(err.message));
  }
}

if (state.token) start(state.token); else show();
