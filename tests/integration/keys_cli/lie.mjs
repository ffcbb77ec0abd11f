// SPDX-License-Identifier: Apache-2.0
// lie.mjs - plays a lying key holder for keys_cli_test.sh: adds 1 to the first
// ring coefficient of block 0 of a partial decryption and signs the result
// with the holder's own identity (so only the decoder can catch it).
// Usage: node lie.mjs SRC_DIR IDENTITY_KEY PARTIAL_IN PARTIAL_OUT
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [src, idFile, inFile, outFile] = process.argv.slice(2);
const { ed25519 } = await import(
  pathToFileURL(join(src, 'tools/npm/node_modules/@noble/curves/ed25519.js')).href);

// libp2p PrivateKey protobuf: 08 01 12 40 || seed(32) || public key(32)
const id = readFileSync(idFile);
if (id.length !== 68 || id[0] !== 0x08 || id[1] !== 0x01 || id[2] !== 0x12 || id[3] !== 0x40)
  throw new Error('not an Ed25519 identity file');
const seed = id.subarray(4, 36);

const partial = Buffer.from(readFileSync(inFile));
const body = partial.subarray(0, partial.length - 64);
const y0 = 4 + 1 + 32 + 1 + 32 + 2; // magic, version, dealing id, index, digest, width, nblocks
body[y0] = (body[y0] + 1) & 0xff;    // low byte of c[0] of block 0 (+1 mod 256)
const domain = Buffer.from('veil/threshold/partial/v1\0', 'latin1');
const sig = ed25519.sign(Buffer.concat([domain, body]), seed);
writeFileSync(outFile, Buffer.concat([body, Buffer.from(sig)]));
