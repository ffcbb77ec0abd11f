// SPDX-License-Identifier: Apache-2.0
// node_encrypt.cjs - node-tfhe 1.7.0's side of bench_tfhers: the time to
// encrypt a confidential request (six FheUint16 in one unpacked compact list,
// as examples/confidential-job-node does) and to load the public key, median of
// REPS runs after one warm-up, printed as one JSON line. Arg: a TFHE-rs public key
// file (run.sh exports a Veil cluster's key with veil fhe export).
'use strict';
const path = require('path');
const fs = require('fs');
const tfhe = require(path.join(__dirname, '../../tools/npm/node_modules/node-tfhe'));

const REPS = 15;
const LIMIT = BigInt(1) << 32n;
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const bytes = fs.readFileSync(process.argv[2]);
const load = [], enc = [];
let size = 0;
for (let i = 0; i <= REPS; i++) {
    let t0 = performance.now();
    const pk = tfhe.TfheCompactPublicKey.safe_deserialize(bytes, LIMIT);
    const tl = performance.now() - t0;
    t0 = performance.now();
    const b = tfhe.CompactCiphertextList.builder(pk);
    for (const v of [123, 81, 1, 0, 6, 2]) b.push_u16(v);
    size = b.build().safe_serialize(LIMIT).length;
    const te = performance.now() - t0;
    if (i > 0) { load.push(tl); enc.push(te); } // the first run warms the WebAssembly up
}
console.log(JSON.stringify({bench: 'fhe_tfhers_node', node_tfhe: '1.7.0', reps: REPS,
                            request_list_bytes: size,
                            public_key_load_ms: Number(median(load).toFixed(3)),
                            request_encrypt_ms: Number(median(enc).toFixed(3))}));
