// SPDX-License-Identifier: Apache-2.0
// tests/integration/privacy/probe_adversary.js - the probing adversary of
// issue 12 (owned by the privacy work): a cluster member that uses ONLY what
// the product shows it on its own node (`veil job run`, `veil job status`,
// `veil get nodes` against its own node's API) and tries to recover the other
// nodes' free memory from placement outcomes.
//
// Strategy (the strongest cheap one against binpack): the outcome of a job
// asking for r memory units is a step function of r: the node with the
// smallest free memory >= r, then "unschedulable" above the cluster maximum.
// Each step edge is one node's free memory. The adversary bisects (in log
// space: it wants relative precision) the widest interval whose two ends had
// different outcomes. With hook H4 the submitter's node shows only
// "placed"/"unschedulable" (and its own node, when a probe lands there): the
// same search then finds the cluster maximum and its own edge, and the
// report says which outcomes it saw ("learned").
//
// What it "learns": the interval [lo, hi] its observations confine a node's
// value to; it knows the value within p when hi/lo <= (1+p)/(1-p) (then
// e = 2*lo*hi/(lo+hi) is within p of every point of the interval). A lucky
// guess is not knowledge; the true values (passed only to score the result,
// never used by the search) give the actual error beside it.
//
// With --scan-foreign it searches instead, through the same API, for where
// other members' jobs landed (every job it did not submit: `veil get jobs`,
// `veil job status`, `veil get assignments`) and prints {"foreign_jobs": N,
// "foreign_placements_seen": M, "nodes_named": [...]}: M counts the
// replicas it is shown on a node other than its own (hook H4 makes it 0).
//
// usage: node probe_adversary.js --veil VEIL --config ADVERSARY_YAML
//          --self PEER [--self-bytes B] [--class-ratio NUM/DEN] --image IMG --max-jobs N [--truth PEER=BYTES,...] [--out FILE]
//        node probe_adversary.js --veil VEIL --config ADVERSARY_YAML --self PEER --scan-foreign 1
// prints one JSON object (and writes it to --out).
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const UNIT = 4 * 1024 * 1024; // the telemetry's memory unit (4 MiB)
const MAX_UNITS = 65535;

function args() {
  const a = { maxJobs: 200, truth: {} };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i], x = v[i + 1];
    if (k === '--veil') a.veil = x;
    else if (k === '--config') a.config = x;
    else if (k === '--self') a.self = x;
    else if (k === '--image') a.image = x;
    else if (k === '--max-jobs') a.maxJobs = Number(x);
    else if (k === '--out') a.out = x;
    else if (k === '--poll-s') a.pollS = Number(x);
    else if (k === '--scan-foreign') a.scanForeign = x === '1';
    else if (k === '--self-bytes') a.selfUnits = Math.floor(Number(x) / UNIT);
    else if (k === '--class-ratio') { const [n, d] = x.split('/').map(Number); a.ratio = [n, d]; }
    else if (k === '--truth') {
      for (const kv of x.split(',')) { const [p, b] = kv.split('='); a.truth[p] = Number(b); }
    } else throw new Error(`unknown argument ${k}`);
  }
  for (const k of ['veil', 'config', 'self'].concat(a.scanForeign ? [] : ['image']))
    if (!a[k]) throw new Error(`--${k} is required`);
  return a;
}

const A = args();

// Capacity classes (cluster policy, public; src/node/privacy.c's grid):
// b0 = 1, next(b) = max(b + 1, ceil(b * num / den)). Nodes round their free
// values down to the grid, so a step edge is a class bound; the adversary
// knows it and widens what an edge tells it to the whole class.
function nextBound(b) {
  const [n, d] = A.ratio;
  return Math.max(b + 1, Math.ceil(b * n / d));
}
function classDown(v) {
  if (!A.ratio || v <= 0) return v;
  let b = 1;
  for (let n = nextBound(b); n <= v; n = nextBound(b)) b = n;
  return b;
}
function classNext(v) { return A.ratio ? (v <= 0 ? 1 : nextBound(classDown(v))) : v + 1; }
// The class bounds in [a, b] (an edge can only be at one of them).
function boundsIn(a, b) {
  const out = [];
  for (let c = classDown(b); c >= a && c >= 1; c = classDown(c - 1)) out.unshift(c);
  return out;
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-probe-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function veil(...argv) {
  return execFileSync(A.veil, argv, { env: { ...process.env, VEIL_CONFIG: A.config }, encoding: 'utf8' });
}
function sleep(ms) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); }

let jobs = 0;
// submit r units -> the outcome the product shows the submitter: a peer ID,
// "placed" (placed, node not shown), "unschedulable", or "refused" (intake
// or budget refusal: the job never got an outcome).
function submit(r) {
  jobs++;
  const file = path.join(tmp, `p${jobs}.yaml`);
  fs.writeFileSync(file, `name: p${jobs}\nimage: ${A.image}\ncommand: [/bin/true]\n` +
    `resources: {cpu: 10m, memory: ${r * 4}Mi}\nreplicas: 1\npolicy: binpack\n`);
  let id;
  try { id = veil('job', 'run', file).trim().split(/\s+/)[1]; } catch (e) { return 'refused'; }
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    const st = JSON.parse(veil('job', 'status', id, '-o', 'json'));
    const r0 = (st.replica_states || []).find(x => x.replica === 0);
    if (r0) {
      if (r0.state === 'unschedulable') return 'unschedulable';
      if (r0.node) return r0.node;
      if (['assigned', 'running', 'exited', 'failed'].includes(r0.state)) return 'placed';
    }
    sleep((A.pollS || 0.25) * 1000);
  }
  throw new Error(`job ${id} got no outcome in 120 s`);
}

const samples = new Map(); // r -> outcome
function at(r) {
  if (!samples.has(r)) samples.set(r, submit(r));
  return samples.get(r);
}

// The certified interval of node `p`'s free memory (units): its step's top
// edge lies between the largest r it won and the next larger sample with a
// different outcome. Without redaction every node that ever won is bounded.
function interval(p) {
  const rs = [...samples.keys()].sort((x, y) => x - y);
  let lo = 0;
  for (const r of rs) if (samples.get(r) === p) lo = r;
  if (!lo) return null;
  let hi = MAX_UNITS;
  for (const r of rs) if (r > lo && samples.get(r) !== p) { hi = r - 1; break; }
  if (!A.ratio) return { lo, hi };
  // the edge is a class bound c in [lo, hi]: the value lies in [c, next(c) - 1]
  const c0 = classDown(lo) === lo ? lo : classNext(lo);
  return { lo: c0, hi: Math.min(MAX_UNITS, classNext(hi) - 1) };
}
const within = (iv, p) => iv && iv.hi / iv.lo <= (1 + p) / (1 - p);

function main() {
  const members = JSON.parse(veil('get', 'nodes', '-o', 'json')).map(n => n.peer_id || n.peer || n.id);
  const targets = members.filter(m => m && m !== A.self);
  const t0 = Date.now();
  const first = { p25: null, p10: null, all25: null, all10: null };
  const keyOf = o => (o === 'placed' ? 'max' : o);
  at(1); at(MAX_UNITS);
  while (jobs < A.maxJobs) {
    // Update the "jobs needed" figures (one node, and every target).
    const ivs = targets.map(t => interval(t)).concat([interval('placed')]).filter(Boolean);
    const tiv = targets.map(t => interval(t));
    if (first.p25 === null && ivs.some(iv => within(iv, 0.25))) first.p25 = jobs;
    if (first.p10 === null && ivs.some(iv => within(iv, 0.10))) first.p10 = jobs;
    if (first.all25 === null && tiv.every(iv => within(iv, 0.25))) first.all25 = jobs;
    if (first.all10 === null && tiv.every(iv => within(iv, 0.10))) { first.all10 = jobs; break; }
    // Bisect the widest (by ratio) interval between adjacent samples that
    // disagree; refusals carry no edge and are skipped.
    const rs = [...samples.keys()].filter(r => samples.get(r) !== 'refused').sort((x, y) => x - y);
    let best = null;
    for (let i = 0; i + 1 < rs.length; i++) {
      const a = rs[i], b = rs[i + 1];
      if (keyOf(samples.get(a)) === keyOf(samples.get(b)) || b - a < 2) continue;
      if (samples.get(a) === A.self && A.selfUnits === b - 1) continue; // its own edge
      if (A.ratio && boundsIn(a, b - 1).length < 2) continue; // the edge is one known bound
      if (!best || b / a > best[1] / best[0]) best = [a, b];
    }
    if (!best) break; // every edge found to the unit
    let mid = Math.round(Math.sqrt(best[0] * best[1]));
    // Its own node's edge it knows: only one job checks that nothing else
    // hides between its own value and the next outcome.
    const su = A.selfUnits;
    if (A.ratio) { // ask just above the middle bound: that splits the bounds in two
      const bs = boundsIn(best[0], best[1] - 1);
      mid = bs[Math.floor((bs.length - 1) / 2)] + 1;
    }
    if (samples.get(best[0]) === A.self && su >= best[0] && su < best[1]) {
      mid = su + 1; // su + 1 < best[1], else the pair was skipped as settled
    }
    if (mid <= best[0]) mid = best[0] + 1;
    if (mid >= best[1]) mid = best[1] - 1;
    if (at(mid) === 'refused' && [...samples.values()].filter(o => o === 'refused').length > 20) break;
  }
  const per_node = {};
  for (const t of targets.concat(['placed'])) {
    const iv = interval(t);
    if (!iv) continue;
    const est = Math.round(2 * iv.lo * iv.hi / (iv.lo + iv.hi)) * UNIT;
    const truth = A.truth[t];
    per_node[t] = { lo_bytes: iv.lo * UNIT, hi_bytes: (iv.hi + 1) * UNIT - 1, estimate_bytes: est,
      certified_rel: Math.round(1e4 * (iv.hi - iv.lo) / (iv.hi + iv.lo)) / 1e4,
      true_bytes: truth === undefined ? null : truth,
      rel_error: truth ? Math.round(1e4 * Math.abs(est - truth) / truth) / 1e4 : null };
  }
  const outcomes = {};
  const kind = o => (o === A.self ? 'own_node' : o.length > 20 ? 'other_node' : o);
  for (const o of samples.values()) outcomes[kind(o)] = (outcomes[kind(o)] || 0) + 1;
  const learned = `${jobs} jobs: ` + Object.entries(outcomes).map(([k, n]) => `${k} ${n}`).join(', ') +
    (outcomes.other_node ? '; other nodes were named' : '; no other node was named');
  const res = { jobs, seconds: Math.round((Date.now() - t0) / 100) / 10,
    jobs_to_one_node_25pct: first.p25, jobs_to_one_node_10pct: first.p10,
    jobs_to_all_nodes_25pct: first.all25, jobs_to_all_nodes_10pct: first.all10,
    outcomes, learned, per_node };
  const text = JSON.stringify(res);
  if (A.out) fs.writeFileSync(A.out, text + '\n');
  console.log(text);
}
// Where other members' jobs run, as far as its own node's API tells it.
function scanForeign() {
  const foreign = JSON.parse(veil('get', 'jobs', '-o', 'json')).filter(j => j.submitter !== A.self);
  const ids = new Set(foreign.map(j => j.id));
  const named = new Map(); // "job/replica" -> node, for nodes other than its own
  const note = (job, r) => { if (r.node && r.node !== A.self) named.set(`${job}/${r.replica}`, r.node); };
  for (const j of foreign) {
    const st = JSON.parse(veil('job', 'status', j.id, '-o', 'json'));
    for (const r of (st.replica_states || []).concat(st.assignments || [])) note(j.id, r);
  }
  for (const r of JSON.parse(veil('get', 'assignments', '-o', 'json')))
    if (ids.has(r.job_id)) note(r.job_id, r);
  const res = { foreign_jobs: foreign.length, foreign_placements_seen: named.size,
    nodes_named: [...new Set(named.values())] };
  const text = JSON.stringify(res);
  if (A.out) fs.writeFileSync(A.out, text + '\n');
  console.log(text);
}

if (A.scanForeign) scanForeign();
else main();
