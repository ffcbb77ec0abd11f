// SPDX-License-Identifier: Apache-2.0
// app.js - the dashboard's behaviour (issue 19): keeps the API token (from
// the URL fragment `#token=...` that `veil dashboard url` prints, or the
// token form) in this tab's sessionStorage, polls the node's local HTTP API
// (/v1/...) for the view on screen, and draws tables and inline SVG charts.
// Every value from the API is written with textContent, never as HTML.
"use strict";

const POLL_MS = 1500;
const VIEWS = ["cluster", "jobs", "submit", "audit", "network"];
const PRE_PLACEMENT = new Set(["pending", "scheduling", "awaiting_decryption", "rescheduling", "undecided"]);
const SAMPLE_SPEC = `name: hello
image: registry.example/busybox@sha256:<digest allowed by the cluster policy>
command: [/bin/sh, -c, "echo hello from veil"]
resources: {cpu: 100m, memory: 32Mi}
replicas: 1
policy: spread
`;

const state = {
  token: null,
  view: "cluster",
  detailJob: null,
  firstSeen: new Map(),   // job id -> ms when this page first saw it before placement
  latency: new Map(),     // job id -> {ms, created}
  assignmentOf: new Map(), // commitment -> {job, replica}
  verified: new Map(),    // commitment -> {included, text}
  self: null,
  timer: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const short = (hex, n = 12) => (hex && hex.length > n ? hex.slice(0, n) + "…" : hex || "");
const badge = (s) => el("span", {class: "badge s-" + String(s).replace(/\s+/g, "-"), text: String(s).replace(/_/g, " ")});
const when = (ms) => (ms ? new Date(ms).toLocaleTimeString() : "");

// ---- the API -------------------------------------------------------------

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = /^\s*\{/.test(body) ? "application/json" : "application/x-yaml";
  const res = await fetch(path, {method, headers, body, cache: "no-store"});
  let json = null;
  try { json = await res.json(); } catch (_) { json = null; }
  if (res.status === 401) needToken("The node refused the token: " + (json && json.error));
  return {status: res.status, json: json || {}};
}

function needToken(why) {
  state.token = null;
  sessionStorage.removeItem("veil-token");
  $("token-view").hidden = false;
  setLive(false, why || "no token");
}

function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([0-9a-f]{64})(?:&|$)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("veil-token", m[1]);
    history.replaceState(null, "", location.pathname + "#cluster");
  }
  state.token = sessionStorage.getItem("veil-token");
}

// The status is a live region: it changes (and is announced) only when the
// connection does; the time of the last update is in the footer.
function setLive(ok, text) {
  $("live-dot").className = "dot " + (ok ? "on" : "off");
  if ($("live-text").textContent !== text) $("live-text").textContent = text;
  if (ok) $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

// Replaces the rows of `tbody` unless they are unchanged, keeping the
// keyboard focus on the control with the same data-key.
function renderRows(tbody, signature, rows) {
  if (tbody.dataset.sig === signature) return;
  tbody.dataset.sig = signature;
  const active = document.activeElement;
  const key = tbody.contains(active) ? active.dataset.key : null;
  tbody.replaceChildren(...rows);
  const again = key && tbody.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (again) again.focus();
}

// ---- navigation ----------------------------------------------------------

function show(view) {
  if (!VIEWS.includes(view)) view = "cluster";
  state.view = view;
  for (const v of VIEWS) $("view-" + v).hidden = v !== view;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = "Veil: " + view;
  refresh();
}

// ---- Cluster ---------------------------------------------------------------

async function refreshCluster() {
  const nodes = await api("GET", "/v1/nodes");
  const body = $("members").tBodies[0];
  const rows = (nodes.json.nodes || []).map((n) =>
    el("tr", {"data-peer": n.peer_id},
      el("td", {}, el("code", {text: n.peer_id})),
      el("td", {text: n.organization || "—"}),
      el("td", {}, badge(n.alive ? "alive" : "down")),
      el("td", {text: n.last_telemetry_epoch ? String(n.last_telemetry_epoch) : "none yet"}),
      el("td", {class: "bytes", text: n.last_telemetry_bytes == null ? "—"
        : `${n.last_telemetry_bytes.toLocaleString("en")} B (epoch ${n.last_telemetry_bytes_epoch})`})));
  renderRows(body, JSON.stringify(nodes.json.nodes || []), rows.length ? rows : [emptyRow(5, "no members seen yet")]);
  // the node answers from its cache (never waiting on the chain): every poll
  const c = await api("GET", "/v1/cluster");
  $("self-id").textContent = c.json.self || "?";
  state.self = c.json.self || state.self;
  const sig = JSON.stringify([c.json.policy, c.json.policy_stale, c.json.policy_error, Math.round((c.json.policy_age_ms || 0) / 5000)]);
  if ($("policy").dataset.sig !== sig) {
    $("policy").dataset.sig = sig;
    renderPolicy(c.json);
  }
}

// "read 12 s ago" and, in red, why the value may be old.
function freshness(age, stale, error) {
  const p = el("p", {class: stale ? "error-text stale" : "muted fresh"});
  p.textContent = (age == null ? "not read yet" : `read from the chain ${Math.round(age / 1000)} s ago`) +
    (stale ? ` — stale: ${error || "the chain did not answer lately"}` : "");
  if (stale) p.dataset.stale = "true";
  return p;
}

function list(items, fmt) {
  if (!items || !items.length) return el("span", {class: "muted", text: "none"});
  return el("ul", {class: "plain"}, ...items.map((x) => el("li", {}, el("code", {text: fmt ? fmt(x) : x}))));
}

function renderPolicy(c) {
  const box = $("policy");
  if (!c.policy) {
    box.replaceChildren(el("p", {class: "error-text", text: "Cannot read the policy from chain: " + (c.policy_error || c.error || "unknown error")}));
    return;
  }
  const fresh = freshness(c.policy_age_ms, c.policy_stale, c.policy_error);
  const p = c.policy;
  const kv = el("dl", {class: "kv"});
  const add = (k, v) => kv.append(el("dt", {text: k}), el("dd", {}, v));
  add("Cluster", String(p.cluster_id));
  add("Policy version", String(p.version));
  add("Scheduler policy", p.scheduler_policy || "(default)");
  if (p.weights && p.weights.length) add("Weights", p.weights.join(", "));
  add("Allowed images", list(p.allowed_images));
  add("Decryption key holders (" + (p.key_holders || []).length + ")", list(p.key_holders));
  add("FHE key hash", el("code", {text: p.fhe_key_hash}));
  add("Guardian keys", list(p.guardian_keys));
  if (p.shards) {
    add("Sharded rounds", p.shards.size ? "shards of " + p.shards.size + ", " +
        (p.shards.redundancy || 3) + " schedulers each" : "no (one round over every member)");
  }
  box.replaceChildren(fresh, kv);
}

function emptyRow(cols, text) {
  return el("tr", {}, el("td", {colspan: String(cols), class: "empty", text}));
}

// ---- Jobs ------------------------------------------------------------------

async function refreshJobs() {
  const [r, asg] = await Promise.all([api("GET", "/v1/jobs"), api("GET", "/v1/assignments")]);
  const jobs = r.json.jobs || [];
  const now = Date.now();
  // The node's own record, when its assignments carry created_ms: latency =
  // the first assignment of a job minus its submission.
  const firstAssigned = new Map();
  for (const a of asg.json.assignments || [])
    if (a.created_ms && !(firstAssigned.get(a.job_id) <= a.created_ms)) firstAssigned.set(a.job_id, a.created_ms);
  for (const j of jobs)
    if (firstAssigned.has(j.id) && j.created_ms) state.latency.set(j.id, {ms: Math.max(0, firstAssigned.get(j.id) - j.created_ms), created: j.created_ms});
  // Otherwise what this page saw: from the first poll that found the job
  // unplaced to the first that found it placed.
  for (const j of jobs) {
    if (PRE_PLACEMENT.has(j.state) && !state.firstSeen.has(j.id)) state.firstSeen.set(j.id, now);
    if (!PRE_PLACEMENT.has(j.state) && state.firstSeen.has(j.id) && !state.latency.has(j.id))
      state.latency.set(j.id, {ms: now - Math.max(j.created_ms, state.firstSeen.get(j.id) - POLL_MS), created: j.created_ms});
  }
  const body = $("jobs").tBodies[0];
  const rows = jobs.slice().reverse().map((j) => {
    const btn = el("button", {type: "button", "data-key": "details-" + j.id, "aria-label": "Details of job " + j.name, text: "Details"});
    btn.addEventListener("click", () => openDetail(j.id));
    return el("tr", {"data-job": j.id, "data-name": j.name},
      el("td", {text: j.name}), el("td", {}, el("code", {title: j.id, text: short(j.id, 16)})),
      el("td", {text: String(j.replicas)}), el("td", {class: "state"}, badge(j.state || "?")),
      el("td", {text: String(j.running)}), el("td", {text: when(j.created_ms)}), el("td", {}, btn));
  });
  renderRows(body, JSON.stringify(jobs), rows.length ? rows : [emptyRow(7, "no jobs yet")]);
  drawStates(jobs);
  drawLatency(jobs);
  if (state.detailJob) await refreshDetail();
}

function openDetail(id) {
  state.detailJob = id;
  $("job-detail").hidden = false;
  refreshDetail().then(() => $("job-detail-h").focus());
}

function table(head, rows) {
  return el("div", {class: "scroll"}, el("table", {},
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {scope: "col", text: h})))),
    el("tbody", {}, ...(rows.length ? rows : [emptyRow(head.length, "none")]))));
}

async function refreshDetail() {
  const r = await api("GET", "/v1/jobs/" + state.detailJob);
  const j = r.json;
  if (!state.self) state.self = (await api("GET", "/v1/cluster")).json.self || null;
  // the output of a running container changes without the job changing
  const sig = r.status + JSON.stringify(j) + (j.replica_states || []).some((x) => x.state === "running" && x.node === state.self) + Math.floor(Date.now() / 3000);
  if ($("job-detail-body").dataset.sig === sig) return;
  $("job-detail-body").dataset.sig = sig;
  $("job-detail-h").textContent = "Job " + (j.name || "") + " (" + short(state.detailJob, 16) + ")";
  $("job-detail-h").setAttribute("tabindex", "-1");
  if (r.status !== 200) {
    $("job-detail-body").replaceChildren(el("p", {class: "error-text", text: j.error || "unknown error"}));
    return;
  }
  // Hook H4: the node's API shows where a replica runs only on the node
  // running it. Of its own job this node sees whether each replica is
  // placed; of another member's, the replicas it runs (the others are rows
  // with their number alone).
  const reps = (j.replica_states || []).map((x) => el("tr", {},
    el("td", {text: String(x.replica)}),
    el("td", {}, x.state ? badge(x.state) : el("span", {class: "muted", text: "not shown"})),
    el("td", {}, x.node ? el("code", {text: x.node}) : el("span", {class: "muted", text: "—"})),
    el("td", {text: x.attempts === undefined ? "" : String(x.attempts)}), el("td", {text: x.note || ""})));
  const view = j.view === "submitter"
    ? [el("p", {class: "muted", "data-view": j.view, text: "This node's job: each replica shows whether it is placed and its state; " +
        "where it runs is shown only on the node running it (reach it by name, veil-" + short(j.id, 16).replace("…", "") + "-<replica>)."})]
    : j.view
    ? [el("p", {class: "muted", "data-view": j.view, text: "Another member's job (" + (j.decided ? "decided" : "undecided") +
        "): where it runs is shown only to the nodes running it" +
        (j.view === "runner" ? "; this node sees the replicas it runs." : ".")})]
    : [];
  const where = (a) => a.node ? el("code", {text: short(a.node, 20)})
    : el("span", {class: "muted", text: a.placed === false ? "unschedulable" : "placed (not shown)"});
  const asg = (j.assignments || []).map((a) => el("tr", {},
    el("td", {text: String(a.replica)}), el("td", {text: String(a.epoch)}),
    el("td", {}, where(a)), el("td", {}, el("code", {title: a.output_digest, text: short(a.output_digest, 16)})),
    el("td", {}, el("code", {title: a.commitment, text: short(a.commitment, 16)}))));
  const ctr = (j.containers || []).map((c) => el("tr", {},
    el("td", {text: String(c.replica)}), el("td", {}, el("code", {text: c.id})), el("td", {}, badge(c.state)),
    el("td", {text: c.exit_code === null || c.exit_code === undefined ? "" : String(c.exit_code)})));
  const clock = (ms) => (ms ? new Date(ms).toLocaleTimeString() : "—");
  const rounds = (j.rounds || []).map((x) => el("tr", {"data-replica": String(x.replica)},
    el("td", {text: String(x.replica)}), el("td", {}, badge(x.state)),
    el("td", {text: `${x.attempt} of ${x.max_attempts}`}),
    el("td", {class: "agreement", text: (x.voted == null ? "a majority agreed (tally not kept)" : `${x.largest} agree of ${x.voted} voted`) +
      `, ${x.needed} needed` + (x.split ? " (split)" : "")}),
    el("td", {text: clock(x.deadline_ms)}),
    el("td", {}, list(x.schedulers || [], (p) => short(p, 20)))));
  const logs = await replicaLogs(j);
  $("job-detail-body").replaceChildren(
    ...view,
    el("h4", {text: "Replicas"}),
    table(["Replica", "State", "Chosen node", "Scheduling rounds", "Note"], reps),
    el("h4", {text: "Scheduling rounds decided (the schedulers' agreed output digest, signed by the decryptor)"}),
    table(["Replica", "Epoch", "Node", "Output digest", "Commitment"], asg),
    el("h4", {text: "Scheduling rounds in this node's memory (schedulers, digest agreement, retries)"}),
    table(["Replica", "Round", "Attempt", "Digest agreement", "Deadline", "Schedulers"], rounds),
    el("h4", {text: "Containers on this node"}),
    table(["Replica", "Container", "State", "Exit code"], ctr),
    ...logs);
}

// The status and last lines of output of each replica this node runs
// (GET /v1/jobs/{id}/replicas/{n}/logs; the node answers 404 for others').
async function replicaLogs(j) {
  const mine = (j.replica_states || []).filter((x) => x.node && x.node === state.self);
  const out = [];
  for (const x of mine) {
    const r = await api("GET", `/v1/jobs/${j.id}/replicas/${x.replica}/logs?tail=50`);
    const h = el("h4", {text: `Output of replica ${x.replica}` + (r.status === 200 && r.json.container ? ` (container ${r.json.container.status}` +
      (r.json.container.status === "exited" ? `, exit code ${r.json.container.exit_code})` : ")") : "")});
    if (r.status !== 200) { out.push(h, el("p", {class: "muted", text: r.json.error || "HTTP " + r.status})); continue; }
    const text = (r.json.stdout || "") + (r.json.stderr ? "\n[stderr]\n" + r.json.stderr : "");
    out.push(h, el("pre", {class: "logs", "data-replica": String(x.replica), tabindex: "0", "aria-label": `Output of replica ${x.replica}`,
      text: text || "(no output yet)"}));
  }
  return out;
}

// Jobs per state: one bar each.
function drawStates(jobs) {
  const counts = new Map();
  for (const j of jobs) counts.set(j.state || "?", (counts.get(j.state || "?") || 0) + 1);
  const entries = [...counts.entries()].sort();
  const W = 360, H = 150, pad = 28, bw = entries.length ? Math.min(60, (W - pad) / entries.length - 8) : 0;
  const max = Math.max(1, ...entries.map((e) => e[1]));
  const svg = svgEl("svg", {viewBox: `0 0 ${W} ${H + 30}`, role: "img",
    "aria-label": "Jobs per state: " + (entries.map(([s, n]) => `${s.replace(/_/g, " ")} ${n}`).join(", ") || "no jobs")});
  svg.append(svgEl("line", {class: "axis", x1: pad, y1: H, x2: W, y2: H}));
  entries.forEach(([s, n], i) => {
    const h = Math.round((n / max) * (H - 20)), x = pad + 6 + i * (bw + 8);
    svg.append(svgEl("rect", {class: "bar s-" + s, x, y: H - h, width: bw, height: h}));
    svg.append(svgText(x + bw / 2, H - h - 4, String(n), "middle"));
    svg.append(svgText(x + bw / 2, H + 14, s.replace(/_/g, " "), "middle"));
  });
  $("chart-states").replaceChildren(svg);
}

// Scheduling latency per job, oldest first (submission to first placed state).
function drawLatency(jobs) {
  const pts = jobs.filter((j) => state.latency.has(j.id)).slice(-40).map((j) => state.latency.get(j.id).ms);
  const W = 360, H = 150, pad = 40;
  const max = Math.max(1000, ...pts);
  const svg = svgEl("svg", {viewBox: `0 0 ${W} ${H + 30}`, role: "img",
    "aria-label": pts.length ? "Scheduling latency in seconds: " + pts.map((p) => (p / 1000).toFixed(1)).join(", ") : "No scheduling latency measured yet"});
  svg.append(svgEl("line", {class: "axis", x1: pad, y1: H, x2: W, y2: H}));
  svg.append(svgEl("line", {class: "axis", x1: pad, y1: 10, x2: pad, y2: H}));
  svg.append(svgText(pad - 4, 16, (max / 1000).toFixed(1) + " s", "end"));
  svg.append(svgText(pad - 4, H, "0", "end"));
  if (!pts.length) svg.append(svgText(W / 2, H / 2, "jobs placed while this page is open appear here", "middle"));
  const x = (i) => pad + 10 + (pts.length < 2 ? 0 : (i * (W - pad - 20)) / (pts.length - 1));
  const y = (v) => H - (v / max) * (H - 20);
  if (pts.length > 1) svg.append(svgEl("polyline", {class: "line", points: pts.map((v, i) => `${x(i)},${y(v)}`).join(" ")}));
  pts.forEach((v, i) => svg.append(svgEl("circle", {class: "pt", cx: x(i), cy: y(v), r: 3})));
  svg.append(svgText(W / 2, H + 24, "jobs, in submission order", "middle"));
  $("chart-latency").replaceChildren(svg);
}

function svgEl(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function svgText(x, y, text, anchor) {
  const t = svgEl("text", {x, y, "text-anchor": anchor});
  t.textContent = text;
  return t;
}

// ---- Submit ----------------------------------------------------------------

function showResult(ok, text) {
  const r = $("spec-result");
  r.className = "result " + (ok ? "ok" : "error");
  r.textContent = text;
}

async function validateSpec() {
  const r = await api("POST", "/v1/jobs/validate", $("spec").value);
  if (r.status === 200)
    showResult(true, "Valid" + (r.json.confidential ? " (confidential: submit it with the CLI)" : "") + ". Canonical form:\n" + JSON.stringify(r.json.spec, null, 2));
  else showResult(false, r.json.error || "HTTP " + r.status);
  return r.status === 200 && !r.json.confidential;
}

async function submitSpec(ev) {
  ev.preventDefault();
  if (!(await validateSpec())) return;
  const submitted = Date.now();
  const r = await api("POST", "/v1/jobs", $("spec").value);
  if (r.status === 201) {
    state.firstSeen.set(r.json.id, submitted);
    showResult(true, `Submitted: job ${r.json.spec && r.json.spec.name} (${r.json.id}). Follow it in Jobs.`);
  } else {
    showResult(false, r.json.error || "HTTP " + r.status);
  }
}

// ---- Audit -----------------------------------------------------------------

async function refreshAudit() {
  const [an, asg] = await Promise.all([api("GET", "/v1/anchors"), api("GET", "/v1/assignments")]);
  // only the assignments this node sees in full carry a commitment (H4)
  for (const a of asg.json.assignments || []) if (a.commitment) state.assignmentOf.set(a.commitment, {job: a.job_id, replica: a.replica});
  const rows = (an.json.anchors || []).map((a) => {
    const who = state.assignmentOf.get(a.commitment);
    const cell = el("td", {class: "verdict"});
    const v = state.verified.get(a.commitment);
    if (v) cell.append(v.included === true ? badge("included") : v.included === false ? badge("not included") : el("span", {class: "error-text", text: v.text}));
    else if (who) {
      const btn = el("button", {type: "button", text: "Verify", "data-key": "verify-" + a.commitment, "aria-label": `Verify the inclusion proof of job ${short(who.job)} replica ${who.replica}`});
      btn.addEventListener("click", () => verify(a.commitment, who, btn));
      cell.append(btn);
    }
    return el("tr", {"data-commitment": a.commitment},
      el("td", {}, who ? el("code", {title: who.job, text: short(who.job) + " / " + who.replica}) : el("code", {text: short(a.commitment)})),
      el("td", {text: String(a.epoch)}), el("td", {}, el("code", {title: a.root, text: short(a.root, 16)})),
      el("td", {}, el("code", {title: a.tx_hash, text: short(a.tx_hash, 18)})),
      el("td", {text: (a.proof || []).length + " sibling(s)"}), cell);
  });
  const sig = JSON.stringify([an.json.anchors, [...state.assignmentOf.entries()], [...state.verified.entries()]]);
  renderRows($("anchors").tBodies[0], sig, rows.length ? rows : [emptyRow(6, "no anchors yet")]);
  await refreshDisputes();
}

// This cluster's disputes as the node last read them from the contract;
// open ones first, in red.
async function refreshDisputes() {
  const r = await api("GET", "/v1/disputes");
  const list = (r.json.disputes || []).slice().sort((a, b) => (a.status === "open") === (b.status === "open") ? b.id - a.id : a.status === "open" ? -1 : 1);
  const rows = list.map((d) => el("tr", {"data-dispute": String(d.id), class: d.status === "open" ? "open" : ""},
    el("td", {text: String(d.id)}), el("td", {}, badge(d.status)),
    el("td", {text: `${d.uphold_votes} uphold, ${d.reject_votes} reject`}),
    el("td", {}, el("code", {title: d.anchor_id, text: short(d.anchor_id, 18)})),
    el("td", {}, el("code", {title: d.evidence_hash, text: short(d.evidence_hash, 18)})),
    el("td", {}, el("code", {text: short(d.opener, 14)}))));
  const open = list.filter((d) => d.status === "open").length;
  const sig = JSON.stringify([list, r.json.stale, r.json.error]);
  if ($("disputes").dataset.sig === sig) return;
  $("disputes").dataset.sig = sig;
  $("disputes").replaceChildren(
    el("p", {class: open ? "error-text" : "muted", text: `${open} open dispute(s) of ${list.length} in this cluster`}),
    freshness(r.json.age_ms, r.json.stale, r.json.error),
    table(["Dispute", "State", "Votes", "Anchor id", "Evidence", "Opened by"], rows));
}

async function verify(commitment, who, btn) {
  btn.disabled = true;
  btn.textContent = "Verifying…";
  // the node asks the chain off its API thread: 202 until the answer is in
  let r = await api("POST", "/v1/anchors/verify", JSON.stringify({job: who.job, replica: who.replica}));
  for (let i = 0; r.status === 202 && i < 60; i++) {
    await new Promise((ok) => setTimeout(ok, 500));
    r = await api("POST", "/v1/anchors/verify", JSON.stringify({job: who.job, replica: who.replica}));
  }
  state.verified.set(commitment, r.status === 200 ? {included: r.json.included} : {text: r.json.error || "HTTP " + r.status});
  await refreshAudit();
  // The button became the verdict: the focus goes there.
  const cell = document.querySelector(`#anchors tr[data-commitment="${CSS.escape(commitment)}"] td.verdict`);
  if (cell) { cell.tabIndex = -1; cell.focus(); }
}

// ---- Network ---------------------------------------------------------------

async function refreshNetwork() {
  const r = await api("GET", "/v1/network");
  const n = r.json;
  if (!n.running) {
    $("network").replaceChildren(el("p", {text: n.reason || n.error || "VeilNet does not run on this node."}));
    return;
  }
  const s = n.sessions || {};
  $("network").replaceChildren(
    el("p", {text: `Realm ${n.realm}, this node ${n.ipv4} (certificate from ${n.certificate || "file"}, ${n.renewals || 0} renewals)`}),
    el("h3", {text: "Peers"}), list(n.peers || [], (p) => `${p.ipv4}  ${p.peer}${p.revoked ? "  (revoked)" : ""}`),
    el("h3", {text: "Sessions"}), el("p", {text: `handshakes completed ${s.handshakes_completed ?? 0}, initiated ${s.handshakes_initiated ?? 0}`}),
    el("h3", {text: "Replicas this node runs"}), list(n.replicas || [], (x) => `${x.name}  ${x.ipv4}`));
}

// ---- the loop --------------------------------------------------------------

const REFRESH = {cluster: refreshCluster, jobs: refreshJobs, audit: refreshAudit, network: refreshNetwork, submit: async () => {}};

async function refresh() {
  clearTimeout(state.timer);
  if (state.token) {
    try {
      await REFRESH[state.view]();
      if (state.token) setLive(true, "live");
    } catch (e) {
      setLive(false, "node unreachable: " + e.message);
    }
  }
  state.timer = setTimeout(refresh, POLL_MS);
}

function init() {
  takeTokenFromFragment();
  $("token-view").hidden = !!state.token;
  if (!state.token) setLive(false, "no token");
  $("spec").value = SAMPLE_SPEC;
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token-input").value.trim();
    $("token-input").value = "";
    sessionStorage.setItem("veil-token", t);
    state.token = t;
    $("token-view").hidden = true;
    refresh();
  });
  $("forget-token").addEventListener("click", () => needToken("token forgotten"));
  $("validate-btn").addEventListener("click", validateSpec);
  $("submit-form").addEventListener("submit", submitSpec);
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  show(location.hash.slice(1) || "cluster");
}

document.addEventListener("DOMContentLoaded", init);
