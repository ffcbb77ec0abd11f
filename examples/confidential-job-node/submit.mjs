// SPDX-License-Identifier: Apache-2.0
// submit.mjs - submits a confidential job to a Veil cluster with nothing but
// Zama's SDK (node-tfhe) for the encryption: the job's resource request and
// placement constraints are encrypted on this machine under the cluster's
// compact public key in TFHE-rs format, and only the ciphertext reaches the
// node, exactly as `veil job run --confidential` sends it.
//
//   node submit.mjs --public-key BUNDLE/public.tfhers --api http://127.0.0.1:7070 \
//                   --token-file DATA_DIR/api.token job.json
//
// job.json is a Veil job spec in JSON (see docs/TFHE_RS.md):
//   {"name": "web", "image": "reg:5000/app@sha256:...", "command": ["/bin/true"],
//    "resources": {"cpu": "500m", "memory": "64Mi", "disk": "1Gi", "gpu": 0},
//    "constraints": {"region": "eu-west", "zone": 2}, "replicas": 1,
//    "policy": "binpack"}
// Prints the node's answer (the job id) as JSON.
//
// What goes on the wire: {"spec": <the spec with resources and constraints
// replaced by "confidential" and request_digest = BLAKE2b-256("veil-job-request-v1"
// || ciphertext)>, "request_ciphertext": base64url(ciphertext)}, the ciphertext
// being a TFHE-rs CompactCiphertextList of six FheUint16: cpu (units of 10m),
// memory (4 MiB), disk (1 GiB), gpus, region code, zone - each rounded up.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { blake2b } from '@noble/hashes/blake2.js';

const require = createRequire(import.meta.url);
const tfhe = require('node-tfhe');

const LIMIT = BigInt(1) << 32n; // safe_deserialize size limit
const MAX_WORD = 0xffffn;
// Veil's region table (src/node/quantity.c): names map to the same codes on every node.
const REGIONS = [null, 'us-east', 'us-west', 'us-central', 'ca-central', 'sa-east', 'eu-west',
                 'eu-central', 'eu-north', 'eu-south', 'uk-south', 'me-central', 'af-south',
                 'ap-south', 'ap-southeast', 'ap-northeast', 'ap-east', 'au-east', 'local'];

// A Kubernetes quantity ("500m", "64Mi", "1.5G", 2) as an exact count of 10^unitExp10.
function quantity(text, unitExp10, field) {
    const m = /^(\d+)(?:\.(\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/.exec(String(text));
    if (!m) throw new Error(`resources.${field}: "${text}" is not a quantity`);
    const frac = m[2] || '';
    let value = BigInt(m[1] + frac);
    let exp10 = -frac.length - unitExp10;
    const binary = { Ki: 10n, Mi: 20n, Gi: 30n, Ti: 40n, Pi: 50n, Ei: 60n };
    const decimal = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
    if (m[3] in binary) value <<= binary[m[3]];
    else if (m[3]) exp10 += decimal[m[3]];
    for (; exp10 > 0; exp10--) value *= 10n;
    for (; exp10 < 0; exp10++) {
        if (value % 10n !== 0n) throw new Error(`resources.${field}: "${text}" is finer than the unit`);
        value /= 10n;
    }
    return value;
}

// Rounded up to the scheduler's unit, as `veil job run` does (src/node/telemetry.c).
function word(value, unit, field) {
    const q = (value + unit - 1n) / unit;
    if (q > MAX_WORD) throw new Error(`resources.${field}: ${value} exceeds the schedulable maximum`);
    return q;
}

// The six 16-bit words of a confidential request (src/node/daemon_sched.h).
export function requestWords(spec) {
    const r = spec.resources || {};
    const c = spec.constraints || {};
    let region = 0n;
    if (c.region !== undefined) {
        const code = REGIONS.indexOf(c.region);
        region = code > 0 ? BigInt(code) : BigInt(c.region);
        if (region < 1n || region > 255n) throw new Error(`constraints.region: "${c.region}"`);
    }
    const zone = c.zone === undefined ? 0n : BigInt(c.zone);
    if (zone < 0n || zone > 255n) throw new Error(`constraints.zone: ${c.zone}`);
    return [
        word(r.cpu === undefined ? 0n : quantity(r.cpu, -3, 'cpu'), 10n, 'cpu'),
        word(r.memory === undefined ? 0n : quantity(r.memory, 0, 'memory'), 4n << 20n, 'memory'),
        word(r.disk === undefined ? 0n : quantity(r.disk, 0, 'disk'), 1n << 30n, 'disk'),
        word(r.gpu === undefined ? 0n : quantity(r.gpu, 0, 'gpu'), 1n, 'gpu'),
        region,
        zone,
    ];
}

// The request under the cluster's TFHE-rs compact public key, as one
// (unpacked) compact list - what the daemon expands and schedules on.
export function encryptRequest(publicKeyBytes, words) {
    const pk = tfhe.TfheCompactPublicKey.safe_deserialize(publicKeyBytes, LIMIT);
    const builder = tfhe.CompactCiphertextList.builder(pk);
    for (const w of words) builder.push_u16(Number(w));
    return builder.build().safe_serialize(LIMIT);
}

export function envelope(spec, ciphertext) {
    const domain = new TextEncoder().encode('veil-job-request-v1');
    const msg = new Uint8Array(domain.length + ciphertext.length);
    msg.set(domain);
    msg.set(ciphertext, domain.length);
    const redacted = { ...spec, confidential: true, resources: 'confidential',
                       constraints: 'confidential',
                       request_digest: Buffer.from(blake2b(msg, { dkLen: 32 })).toString('hex') };
    return { spec: redacted, request_ciphertext: Buffer.from(ciphertext).toString('base64url') };
}

function args(argv) {
    const o = {};
    for (let i = 0; i < argv.length; i++) {
        if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i];
        else o.job = argv[i];
    }
    for (const k of ['public-key', 'api', 'token-file', 'job'])
        if (!o[k]) throw new Error('usage: node submit.mjs --public-key FILE --api URL --token-file FILE JOB.json');
    return o;
}

async function main() {
    const o = args(process.argv.slice(2));
    const spec = JSON.parse(fs.readFileSync(o.job, 'utf8'));
    const t0 = performance.now();
    const ct = encryptRequest(fs.readFileSync(o['public-key']), requestWords(spec));
    const encryptMs = performance.now() - t0;
    const token = fs.readFileSync(o['token-file'], 'utf8').trim();
    const res = await fetch(`${o.api}/v1/jobs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(envelope(spec, ct)),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
        console.error(`veil node refused the job (${res.status}): ${body.error || JSON.stringify(body)}`);
        process.exit(1);
    }
    console.log(JSON.stringify({ id: body.id, ciphertext_bytes: ct.length,
                                 encrypt_ms: Number(encryptMs.toFixed(1)) }));
}

if (import.meta.url === `file://${process.argv[1]}`)
    main().catch((e) => { console.error(e.message); process.exit(1); });
