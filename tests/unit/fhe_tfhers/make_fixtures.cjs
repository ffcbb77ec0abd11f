// SPDX-License-Identifier: Apache-2.0
// make_fixtures.cjs - regenerates data/ with node-tfhe (the pinned npm oracle):
// a TFHE-rs 1.7 client key and compact public key (default configuration),
// FheBool true and FheUint8 0xa5 under the client key, and two compact lists
// under the public key: unpacked [u16 0x1234, u8 7, bool true] and packed
// [u16 0x1234, u8 7], and a confidential job's request as the daemon expects it
// (six FheUint16: cpu, memory, disk, gpu, region, zone). test_tfhers.c reads
// them without Node.
// Run: node tests/unit/fhe_tfhers/make_fixtures.cjs
'use strict';
const path = require('path');
const fs = require('fs');
const tfhe = require(path.join(__dirname, '../../../tools/npm/node_modules/node-tfhe'));

const LIMIT = BigInt(1) << 32n;
const out = (name, obj) => fs.writeFileSync(path.join(__dirname, 'data', name), obj.safe_serialize(LIMIT));

const ck = tfhe.TfheClientKey.generate(tfhe.TfheConfigBuilder.default().build());
const pk = tfhe.TfheCompactPublicKey.new(ck);
out('client.key', ck);
out('public.key', pk);
out('bool_true.ct', tfhe.FheBool.encrypt_with_client_key(true, ck));
out('u8_a5.ct', tfhe.FheUint8.encrypt_with_client_key(0xa5, ck));
let b = tfhe.CompactCiphertextList.builder(pk);
b.push_u16(0x1234);
b.push_u8(7);
b.push_boolean(true);
out('list.ct', b.build());
b = tfhe.CompactCiphertextList.builder(pk);
b.push_u16(0x1234);
b.push_u8(7);
out('list_packed.ct', b.build_packed());
b = tfhe.CompactCiphertextList.builder(pk);
for (const v of [50, 16, 1, 0, 3, 65535]) b.push_u16(v);
out('request.ct', b.build());
