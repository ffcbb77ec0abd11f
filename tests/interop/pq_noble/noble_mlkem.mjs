// SPDX-License-Identifier: Apache-2.0
// noble_mlkem.mjs - the reference side of the ML-KEM-768 interop test: the
// same three operations as `veil pq mlkem768`, with the same hex-in,
// hex-lines-out shape, on @noble/post-quantum (tools/npm/node_modules).
//   keygen [SEED_HEX]        -> ek, dk   (SEED = d||z, 64 bytes)
//   encaps EK_HEX [M_HEX]    -> ct, ss
//   decaps DK_HEX CT_HEX     -> ss
import { pathToFileURL } from 'node:url';

// Resolved from the source tree's pinned tools (VEIL_SOURCE_DIR, set by ctest).
const root = process.env.VEIL_SOURCE_DIR ?? new URL('../../..', import.meta.url).pathname;
const modPath = `${root}/tools/npm/node_modules/@noble/post-quantum/ml-kem.js`;
const { ml_kem768 } = await import(pathToFileURL(modPath).href);

const hex = (b) => Buffer.from(b).toString('hex');
const bytes = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const [op, a, b] = process.argv.slice(2);

if (op === 'keygen') {
    const seed = a ? bytes(a) : undefined;
    const { publicKey, secretKey } = ml_kem768.keygen(seed);
    console.log(hex(publicKey));
    console.log(hex(secretKey));
} else if (op === 'encaps') {
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(bytes(a), b ? bytes(b) : undefined);
    console.log(hex(cipherText));
    console.log(hex(sharedSecret));
} else if (op === 'decaps') {
    console.log(hex(ml_kem768.decapsulate(bytes(b), bytes(a))));
} else {
    console.error('usage: noble_mlkem.mjs keygen|encaps|decaps ...');
    process.exit(2);
}
