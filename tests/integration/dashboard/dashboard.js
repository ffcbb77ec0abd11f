// SPDX-License-Identifier: Apache-2.0
// tests/integration/dashboard/dashboard.js - drives Debian's chromium
// (headless, through playwright-core) through the dashboard of a running
// node; started by dashboard.sh, which sets:
//   DASH_URL    what `veil dashboard url` printed (token in the fragment)
//   DASH_SPECS  dir with good.yaml, bad.yaml and bad.expected (the message
//               `veil job validate` prints for bad.yaml)
//   DASH_PEERS  the three nodes' peer IDs, comma-separated
//   DASH_OUT    file receiving every response body the page got ("=== URL")
//   DASH_SELF   this node's peer ID (hello-dash runs here)
//   DASH_OTHER  (optional) a job another member submitted, placed on
//               DASH_OTHER_ON (not this node): shown only as decided
//   DASH_DISPUTE  the id of a dispute opened on the contract (open)
//   DASH_SCREENSHOTS (optional) dir for a screenshot of each page
// Prints "ok ..." lines; exits 1 on the first failed check.
"use strict";
const fs = require("fs");
const path = require("path");
const {chromium} = require("playwright-core");

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} not set`); return v; };
const URL_ = env("DASH_URL"), SPECS = env("DASH_SPECS"), OUT = env("DASH_OUT");
const PEERS = env("DASH_PEERS").split(",");
const SHOTS = process.env.DASH_SCREENSHOTS || "";
const read = (f) => fs.readFileSync(path.join(SPECS, f), "utf8");
const ok = (msg) => console.log("ok " + msg);
function check(cond, msg) { if (!cond) throw new Error("FAILED: " + msg); }

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, {recursive: true});
  await page.screenshot({path: path.join(SHOTS, name + ".png"), fullPage: true});
}

// A GET with the page's token, for the diagnostics of a failed check.
async function apiGet(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, {headers: {Authorization: "Bearer " + sessionStorage.getItem("veil-token")}});
    return {status: r.status, body: await r.text()};
  }, path);
}

async function nav(page, view) {
  await page.getByRole("link", {name: view, exact: true}).click();
  await page.waitForSelector(`#view-${view.toLowerCase()}:not([hidden])`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           "--disable-default-apps", "--disable-extensions"],
  });
  const out = fs.openSync(OUT, "w");
  try {
    const page = await browser.newPage({viewport: {width: 1366, height: 800}});
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    // Every response body the dashboard received, for the privacy scan.
    const pending = [];
    page.on("response", (r) => pending.push(r.text().then(
      (t) => fs.writeSync(out, `=== ${r.status()} ${r.url()}\n${t}\n`), () => {})));

    await page.goto(URL_);
    check(!(await page.evaluate(() => location.hash.includes("token="))),
          "the token was left in the address bar");
    const loads = [];
    page.on("load", () => loads.push(Date.now()));

    // Cluster: the three nodes.
    await page.waitForFunction((peers) => peers.every((p) =>
      document.querySelector(`#members tr[data-peer="${p}"]`)), PEERS, {timeout: 30000});
    const rows = await page.locator("#members tbody tr").count();
    check(rows === 3, `cluster page lists ${rows} members`);
    for (const p of PEERS) {
      const live = await page.locator(`#members tr[data-peer="${p}"] .badge`).textContent();
      check(live === "alive", `member ${p} is ${live}`);
    }
    // each member's last telemetry message: its size and epoch, never a value
    await page.waitForFunction((peers) => peers.every((p) => /^[0-9,]+ B \(epoch [0-9]+\)$/.test(
      (document.querySelector(`#members tr[data-peer="${p}"] td.bytes`) || {}).textContent || "")), PEERS, {timeout: 30000});
    const sizes = await page.locator("#members td.bytes").allTextContents();
    ok("cluster page shows each member's last telemetry message size: " + sizes.join("; "));
    // the policy the node's cache read from chain, with its age
    await page.waitForFunction(() => /sha256:/.test(document.getElementById("policy").textContent), null, {timeout: 60000});
    const policy = await page.locator("#policy").textContent();
    check(/Allowed images/.test(policy) && /read from the chain \d+ s ago/.test(policy), "policy from chain not shown: " + policy);
    ok("cluster page lists the 3 nodes (alive) and the policy from chain (with its age)");
    await shot(page, "cluster");

    // Keyboard: the first Tab reaches the skip link, the next ones the views.
    await page.keyboard.press("Tab");
    check(await page.evaluate(() => document.activeElement.classList.contains("skip")), "skip link first");
    await page.keyboard.press("Tab");
    check(await page.evaluate(() => document.activeElement.dataset.view === "cluster"), "nav second");

    // Submit: an invalid spec shows the validator's own message.
    await nav(page, "Submit");
    await page.getByLabel(/Job spec/).fill(read("bad.yaml"));
    await page.getByRole("button", {name: "Validate"}).click();
    const expected = read("bad.expected").trim();
    await page.waitForFunction(() => document.getElementById("spec-result").classList.contains("error"));
    const shown = (await page.locator("#spec-result").textContent()).trim();
    check(shown === expected, `validation error shown "${shown}", veil job validate says "${expected}"`);
    ok(`an invalid spec shows veil job validate's message: ${shown}`);
    await shot(page, "submit-invalid");

    // Submit a valid one from the form.
    await page.getByLabel(/Job spec/).fill(read("good.yaml"));
    await page.getByRole("button", {name: "Submit"}).click();
    await page.waitForFunction(() => /Submitted: job/.test(document.getElementById("spec-result").textContent),
                               null, {timeout: 15000});
    const jobId = /\(([0-9a-f]{64})\)/.exec(await page.locator("#spec-result").textContent())[1];
    ok(`job ${jobId} submitted from the form`);
    console.log("job=" + jobId);

    // A write without the token is refused, and one with a wrong token.
    const refused = await page.evaluate(async (spec) => {
      const r = await fetch("/v1/jobs", {method: "POST", body: spec});
      return {status: r.status, body: await r.json()};
    }, read("good.yaml"));
    check(refused.status === 401, `a POST without the token got ${refused.status}`);
    const wrong = await page.evaluate(async (spec) => (await fetch("/v1/jobs", {method: "POST",
      headers: {Authorization: "Bearer " + "0".repeat(64)}, body: spec})).status, read("good.yaml"));
    check(wrong === 401, `a POST with a wrong token got ${wrong}`);
    ok(`a write without the token is refused (401: ${refused.body.error}), and with a wrong one`);

    // Jobs: the job is placed and reaches running/exited without a reload.
    await nav(page, "Jobs");
    const sel = `#jobs tr[data-job="${jobId}"] td.state`;
    await page.waitForFunction((s) => {
      const td = document.querySelector(s);
      return td && /^(running|exited)$/.test(td.textContent);
    }, sel, {timeout: 150000, polling: 250});
    const st = await page.locator(sel).textContent();
    check(loads.length === 0, "the page reloaded");
    await page.getByRole("button", {name: "Details of job hello-dash"}).click();
    await page.waitForFunction(() => /Chosen node/.test(document.getElementById("job-detail-body").textContent));
    // binpack puts hello-dash on this node (the least memory): it runs it,
    // so its detail names this node, and no other (hook H4)
    const chosen = await page.locator("#job-detail-body table").first().locator("tbody tr td:nth-child(3)").textContent();
    check(chosen.trim() === process.env.DASH_SELF, `chosen node "${chosen}" is not this node`);
    const mine = await page.locator("#job-detail-body").textContent();
    check(/This node's job: each replica shows whether it is placed/.test(mine), "hello-dash's detail: " + mine);
    // the replica and assignment tables name no other node (the schedulers
    // of the round are other members, and that is no placement)
    const placements = (await page.locator("#job-detail-body table").nth(0).textContent()) +
      (await page.locator("#job-detail-body table").nth(1).textContent());
    check(!PEERS.some((p) => p !== process.env.DASH_SELF && placements.includes(p)), "hello-dash's detail names another node: " + placements);
    ok(`the job reached ${st} on the jobs page without a reload, placed on this node ${chosen.trim()}`);
    // the round: its schedulers, digest agreement, attempt and deadline
    await page.waitForFunction(() => /(agree of \d+ voted|a majority agreed[^,]*), \d+ needed/.test(document.getElementById("job-detail-body").textContent),
                               null, {timeout: 15000}).catch(async (e) => {
      throw new Error(`${e.message}\nthe detail: ${await page.locator("#job-detail-body").textContent()}\n` +
                      `GET /v1/jobs/${jobId}: ${JSON.stringify(await apiGet(page, "/v1/jobs/" + jobId))}`);
    });
    const round = await page.locator("#job-detail-body table").nth(2).locator("tbody tr").first().textContent();
    check(/[1-3] of 3/.test(round) && /decided/.test(round), "round row: " + round);
    check(PEERS.some((p) => round.includes(p.slice(0, 20))), "round row names no scheduler: " + round);
    ok("the job's round: " + round.replace(/\s+/g, " ").trim());
    // the container's status and its own output, read through the node's API
    await page.waitForFunction(() => /hello from the dashboard/.test((document.querySelector("#job-detail-body pre.logs") || {}).textContent || ""),
                               null, {timeout: 30000, polling: 500}).catch(async (e) => {
      throw new Error(`${e.message}\nthe detail: ${await page.locator("#job-detail-body").textContent()}\n` +
                      `logs: ${JSON.stringify(await apiGet(page, `/v1/jobs/${jobId}/replicas/0/logs`))}`);
    });
    const logsH = await page.locator("#job-detail-body h4", {hasText: "Output of replica 0"}).textContent();
    check(/container (running|exited)/.test(logsH), "container status: " + logsH);
    ok(`the replica's output is on the job page (${logsH.trim()})`);
    await page.waitForFunction(() => document.querySelector("#chart-latency circle"), null, {timeout: 10000});
    await shot(page, "jobs");

    // Another member's job (hook H4): only that it exists and is decided.
    const OTHER = process.env.DASH_OTHER || "";
    if (OTHER) {
      const osel = `#jobs tr[data-job="${OTHER}"] td.state`;
      await page.waitForFunction((s) => {
        const td = document.querySelector(s);
        return td && td.textContent === "decided";
      }, osel, {timeout: 30000, polling: 250});
      await page.getByRole("button", {name: "Details of job other-dash"}).click();
      // the panel still shows hello-dash until the other job's answer is in
      await page.waitForFunction(() => /other-dash/.test(document.getElementById("job-detail-h").textContent)
        && document.querySelector("#job-detail-body p[data-view]"));
      const detail = await page.locator("#job-detail-body").textContent();
      check(/Another member's job \(decided\)/.test(detail), "other-dash's detail: " + detail);
      check(!PEERS.some((p) => detail.includes(p)), "other-dash's detail names a node: " + detail);
      check(await page.locator("#job-detail-body pre.logs").count() === 0, "other-dash shows logs");
      const noRounds = await page.locator("#job-detail-body table").nth(2).textContent();
      check(/none/.test(noRounds) && !/agree of/.test(noRounds), "other-dash shows its rounds: " + noRounds);
      const who = await page.locator(`#jobs tr[data-job="${OTHER}"]`).textContent();
      check(!who.includes(process.env.DASH_OTHER_ON), "the jobs row of other-dash names its node");
      ok("another member's job shows as decided; its detail names no node");
      await shot(page, "jobs-other");
    }

    // Audit: the job's anchor, verified by the contract from the page.
    await nav(page, "Audit");
    const vbtn = page.getByRole("button", {name: new RegExp(`Verify the inclusion proof of job ${jobId.slice(0, 12)}`)});
    await vbtn.first().waitFor({timeout: 90000});
    await vbtn.first().click();
    await page.waitForFunction(() => [...document.querySelectorAll("#anchors td.verdict")].some((td) =>
      /included|error|[a-z]/.test(td.textContent) && !/Verify/.test(td.textContent)), null, {timeout: 30000});
    const verdicts = await page.locator("#anchors td.verdict").allTextContents();
    check(verdicts.includes("included"), "no proof verified: " + JSON.stringify(verdicts));
    if (OTHER) {
      const vother = await page.getByRole("button", {name: new RegExp(`Verify the inclusion proof of job ${OTHER.slice(0, 12)}`)}).count();
      check(vother === 0, "the audit page ties another member's job to an anchor");
      const r = await page.evaluate(async (job) => {
        const tok = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("veil-token");
        return (await fetch("/v1/anchors/verify", {method: "POST", headers: {Authorization: "Bearer " + tok},
          body: JSON.stringify({job, replica: 0})})).status;
      }, OTHER);
      check(r === 404, `/v1/anchors/verify for another member's job answered ${r}`);
      ok("another member's job has no Verify button; /v1/anchors/verify refuses it (404)");
    }
    ok("the audit page got an inclusion proof verified by the contract (included)");
    // the open dispute on the contract, with its state
    const DID = process.env.DASH_DISPUTE;
    await page.waitForFunction((id) => document.querySelector(`#disputes tr[data-dispute="${id}"] .badge`), DID, {timeout: 60000});
    const dstate = await page.locator(`#disputes tr[data-dispute="${DID}"] .badge`).textContent();
    check(dstate === "open", `dispute ${DID} is ${dstate}`);
    check(/1 open dispute/.test(await page.locator("#disputes").textContent()), "open disputes not counted");
    ok(`the audit page lists dispute ${DID} as open`);
    await shot(page, "audit");

    await nav(page, "Network");
    await page.waitForFunction(() => !/loading/.test(document.getElementById("network").textContent));
    ok("network page: " + (await page.locator("#network").textContent()).trim());
    await shot(page, "network");

    if (SHOTS) {
      await page.emulateMedia({colorScheme: "dark"});
      await nav(page, "Jobs");
      await page.waitForTimeout(2000);
      await shot(page, "jobs-dark");
      await page.emulateMedia({colorScheme: "light"});
      await nav(page, "Submit");
      await shot(page, "submit");
    }
    check(errors.length === 0, "page errors: " + errors.join("; "));
    // A body still being read when the page closes is settled by the close.
    await page.close();
    await Promise.all(pending);
  } finally {
    fs.closeSync(out);
    await browser.close();
  }
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
