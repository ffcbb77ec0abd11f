// SPDX-License-Identifier: Apache-2.0
// tests/integration/e2e/privacy_scan.js - the end-to-end suite's leak
// search (owned by the "net" part of the veild integration):
//   node privacy_scan.js CAPS [--rpc URL] [--secret FILE]... FILE...
// CAPS is a node's VEIL_TEST_ONLY_CAPACITY ("cpu=1230m,memory=3210Mi,...").
// Every file is searched for the node's quantized telemetry words and raw
// capacities in every byte form below; a *.hex file holds "<label> <hex>"
// lines (a veild gossip dump) and is searched as bytes, any other file as
// text. With --rpc, the input of every transaction and every log (topics
// and data) of that chain is searched too. Exits 1 (listing each hit) on a
// find; prints how many bytes it searched. Each --secret FILE (a key
// holder's share, a key) is searched for too: 16 chunks of 32 bytes spread
// over the file, any of which in gossip, a log, an API answer or the chain
// would be a leak.
const fs = require("fs");
const args = process.argv.slice(2);
const caps = args.shift();
let rpc = null;
const files = [], secrets = [];
while (args.length) {
  const a = args.shift();
  if (a === "--rpc") rpc = args.shift();
  else if (a === "--secret") secrets.push(args.shift());
  else files.push(a);
}
const unit = {m: 1e-3, "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3};
const raw = {}; // cpu in millicores, memory/disk in bytes, gpu count
for (const kv of caps.split(",")) {
  const [k, v] = kv.split("=");
  const m = /^([0-9]+)(m|Ki|Mi|Gi)?$/.exec(v);
  if (!m) continue; // region/zone names: not telemetry words here
  raw[k] = k === "cpu" ? Number(m[1]) * (m[2] === "m" ? 1 : 1000) : Number(m[1]) * unit[m[2] || ""];
}
// the quantization of src/node/telemetry.c: cpu/10m, memory/4Mi, disk/1Gi
const words = [Math.floor(raw.cpu / 10), Math.floor(raw.memory / 4194304),
               Math.floor(raw.disk / 1073741824), raw.gpu, 0, 0, 0];
const pats = [];
const num = (v, n, le) => { const b = Buffer.alloc(n); let x = BigInt(v);
  for (let i = 0; i < n; i++) { b[le ? i : n - 1 - i] = Number(x & 255n); x >>= 8n; } return b; };
// A pattern must carry >= 3 non-zero bytes: a lone small word padded with
// zeros (00 00 00 ea) is 1-2 bytes of information, which structured
// ciphertext headers and random bytes hit by chance (seen: a header field).
const add = (label, buf, text) => {
  if (buf.length >= 4 && (text || buf.filter(x => x).length >= 3)) pats.push([label, buf]); };
for (const le of [false, true]) {
  const e = le ? "le" : "be";
  add("words u16 " + e, Buffer.concat(words.map(w => num(w, 2, le))));
  add("cpu,mem u16 " + e, Buffer.concat(words.slice(0, 2).map(w => num(w, 2, le))));
  add("mem,disk u16 " + e, Buffer.concat(words.slice(1, 3).map(w => num(w, 2, le))));
  add("words u32 " + e, Buffer.concat(words.map(w => num(w, 4, le))));
  for (const [k, w] of [["cpu", words[0]], ["memory", words[1]]]) {
    add(k + " word u32 " + e, num(w, 4, le)); add(k + " word u64 " + e, num(w, 8, le));
  }
  for (const k of ["cpu", "memory", "disk"]) {
    if (raw[k] < 2 ** 32) add(k + " raw u32 " + e, num(raw[k], 4, le));
    add(k + " raw u64 " + e, num(raw[k], 8, le));
  }
}
const texts = [words.slice(0, 4).join(","), words.slice(0, 2).join(", "),
               String(raw.memory), String(raw.disk)];
for (const kv of caps.split(",")) if (!/=0$/.test(kv)) texts.push(kv.split("=")[1]);
for (const t of texts) add("text " + t, Buffer.from(t), true);
for (const f of secrets) {
  const b = fs.readFileSync(f);
  for (let k = 0; k < 16 && b.length >= 32; k++) {
    const off = Math.floor((b.length - 32) * k / 15);
    pats.push([`secret ${f}@${off}`, b.subarray(off, off + 32)]);
  }
}
let bad = 0, scanned = 0;
// Text forms match as whole tokens ("4000m" is not in "64000m").
const esc = t => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const textre = new Map(pats.filter(([l]) => l.startsWith("text ")).map(([l, p]) =>
  [l, new RegExp(`(?<![0-9A-Za-z.])${esc(p.toString("latin1"))}(?![0-9A-Za-z])`)]));
// Gossip dumps are mostly ciphertext: uniformly random bytes, in which a
// 4-byte pattern occurs by chance once per 2^32 positions (a 30-minute chaos
// run dumps ~300 MB: a few chance hits). There a short binary pattern is a
// leak only when it recurs beyond chance (a leaked word recurs with every
// telemetry message); every other pattern, and every hit elsewhere, counts
// at once.
// A message is in every node's dump: each distinct one is searched once.
const SHORT = 4, chance = new Map(); // label -> [hits, first place]
const seen = new Set();
let dumped = 0;
function search(where, buf, show, dump) {
  if (dump) {
    const h = require("crypto").createHash("sha256").update(buf).digest("hex");
    if (seen.has(h)) return;
    seen.add(h);
    dumped += buf.length;
  }
  scanned += buf.length;
  const str = buf.toString("latin1");
  for (const [label, p] of pats) {
    const hit = textre.has(label) ? textre.get(label).test(str) : buf.indexOf(p) >= 0;
    if (!hit) continue;
    if (dump && !textre.has(label) && p.length <= SHORT) {
      const c = chance.get(label) || [0, `${where}: ${show.slice(0, 120)}`];
      c[0]++; chance.set(label, c); continue;
    }
    console.error(`${label} found in ${where}: ${show.slice(0, 120)}`); bad++;
  }
}
// Hits of a short pattern in the distinct dumped messages beyond chance:
// more than 3 + 20 times the expected count of random hits.
function judge_chance() {
  const expect = dumped / 2 ** (8 * SHORT);
  for (const [label, [n, first]] of chance) {
    if (n > 3 + 20 * expect) { console.error(`${label} found ${n} times in gossip dumps, first in ${first}`); bad++; }
    else console.log(`${label}: ${n} hit(s) in ${dumped} dumped bytes (chance: ${expect.toFixed(3)} expected)`);
  }
}
async function call(method, params) {
  const r = await fetch(rpc, {method: "POST", headers: {"content-type": "application/json"},
                              body: JSON.stringify({jsonrpc: "2.0", id: 1, method, params})});
  const j = await r.json();
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}
(async () => {
  for (const f of files) {
    const hexfile = /\.hex$/.test(f);
    for (const line of fs.readFileSync(f, "utf8").split("\n")) {
      if (!line) continue;
      const sp = line.indexOf(" ");
      search(f, hexfile ? Buffer.from(line.slice(sp + 1), "hex") : Buffer.from(line), line, hexfile);
    }
  }
  if (rpc) {
    const head = parseInt(await call("eth_blockNumber", []), 16);
    let txs = 0;
    for (let b = 0; b <= head; b++) {
      const blk = await call("eth_getBlockByNumber", ["0x" + b.toString(16), true]);
      for (const t of blk.transactions) {
        search(`tx ${t.hash}`, Buffer.from(t.input.slice(2), "hex"), t.input); txs++;
      }
    }
    const logs = await call("eth_getLogs", [{fromBlock: "0x0", toBlock: "latest"}]);
    for (const l of logs)
      search(`log of tx ${l.transactionHash}`,
             Buffer.from(l.topics.map(t => t.slice(2)).join("") + l.data.slice(2), "hex"), l.data);
    if (txs < 5) { console.error(`only ${txs} transactions on the chain: wrong --rpc?`); bad++; }
    console.log(`chain: ${txs} transactions, ${logs.length} logs;`);
  }
  judge_chance();
  console.log(`scanned ${scanned} bytes for ${pats.length} patterns`);
  process.exit(bad ? 1 : 0);
})().catch(e => { console.error(String(e)); process.exit(2); });
