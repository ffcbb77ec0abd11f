// SPDX-License-Identifier: Apache-2.0
// noble_ops.mjs - @noble/post-quantum 0.7.1 ML-KEM-768 keygen, encaps and
// decaps per CPU second of this process (Node, one thread), as one JSON
// line; the counterpart of pq_mlkem_ops.c. Usage: node noble_ops.mjs
// SOURCE_DIR [SECONDS].
import { pathToFileURL } from 'node:url';

const [root, secArg] = process.argv.slice(2);
const seconds = Number(secArg ?? 1);
const mod = `${root}/tools/npm/node_modules/@noble/post-quantum/ml-kem.js`;
const { ml_kem768 } = await import(pathToFileURL(mod).href);

function rate(fn) {
    for (let i = 0; i < 20; i++) fn();
    let n = 0;
    const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
    const t0 = cpu();
    let dt = 0;
    do {
        for (let i = 0; i < 20; i++) fn();
        n += 20;
        dt = cpu() - t0;
    } while (dt < seconds);
    return n / dt;
}

const { publicKey, secretKey } = ml_kem768.keygen();
const { cipherText } = ml_kem768.encapsulate(publicKey);
const kg = rate(() => ml_kem768.keygen());
const en = rate(() => ml_kem768.encapsulate(publicKey));
const de = rate(() => ml_kem768.decapsulate(cipherText, secretKey));
console.log(JSON.stringify({
    bench: 'pq_mlkem768', impl: 'noble-post-quantum-0.7.1', keygen_per_cpu_s: Math.round(kg),
    encaps_per_cpu_s: Math.round(en), decaps_per_cpu_s: Math.round(de),
}));
