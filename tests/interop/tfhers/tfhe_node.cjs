// SPDX-License-Identifier: Apache-2.0
// tfhe_node.cjs - the node-tfhe 1.7.0 side of the TFHE-rs interop test
// (run_interop.sh). Every object goes through safe_serialize /
// safe_deserialize, TFHE-rs's versioned format, as a Zama SDK user would.
//   keygen DIR                         DIR/client.key, DIR/public.key
//   encrypt CK OUTDIR                  OUTDIR/<w>_<edge>.ct for w in 1 8 16 32 64, edge 0|max
//   encrypt-values CK OUTDIR W V...    OUTDIR/<i>.ct = V_i as W bits
//   list PK OUT W V...                 an unpacked CompactCiphertextList of W-bit values
//   list-expand PK OUTDIR W V...       the same list expanded to OUTDIR/<w>_<i>.ct
//   list-packed PK OUT                 a packed list: bool 1, u8/16/32/64 max, u8 0
//   decrypt-list CK FILE W V...       exits 1 unless the list FILE expands to W-bit V...
//                                      (a packed list: node-tfhe's server key is made first)
//   decrypt CK W FILE EXPECTED         exits 1 unless FILE (a W-bit FheUint/FheBool) is EXPECTED
//   decrypt-edges CK DIR               checks DIR/<w>_<edge>.ct are 0 and max
'use strict';
const path = require('path');
const fs = require('fs');
const tfhe = require(path.join(__dirname, '../../../tools/npm/node_modules/node-tfhe'));

const LIMIT = BigInt(1) << 32n;
const WIDTHS = [1, 8, 16, 32, 64];
const TYPES = {1: tfhe.FheBool, 8: tfhe.FheUint8, 16: tfhe.FheUint16, 32: tfhe.FheUint32,
               64: tfhe.FheUint64};
const max = (w) => (w === 1 ? 1n : (1n << BigInt(w)) - 1n);
// node-tfhe takes booleans for FheBool, Numbers up to 32 bits, BigInt for 64.
const jsValue = (w, v) => (w === 1 ? v !== 0n : w === 64 ? v : Number(v));
const read = (file) => fs.readFileSync(file);
const loadCk = (file) => tfhe.TfheClientKey.safe_deserialize(read(file), LIMIT);
const loadPk = (file) => tfhe.TfheCompactPublicKey.safe_deserialize(read(file), LIMIT);

function decrypt(ck, w, file) {
    const ct = TYPES[w].safe_deserialize(read(file), LIMIT);
    const v = ct.decrypt(ck);
    return typeof v === 'boolean' ? BigInt(v ? 1 : 0) : BigInt(v);
}

function pushAll(builder, w, values) {
    for (const v of values) {
        if (w === 1) builder.push_boolean(v !== 0n);
        else builder[`push_u${w}`](w === 64 ? v : Number(v));
    }
}

function getters(w) {
    return w === 1 ? 'get_bool' : `get_uint${w}`;
}

function main(argv) {
    const [cmd, ...a] = argv;
    if (cmd === 'keygen') {
        const ck = tfhe.TfheClientKey.generate(tfhe.TfheConfigBuilder.default().build());
        fs.writeFileSync(path.join(a[0], 'client.key'), ck.safe_serialize(LIMIT), {mode: 0o600});
        fs.writeFileSync(path.join(a[0], 'public.key'),
                         tfhe.TfheCompactPublicKey.new(ck).safe_serialize(LIMIT));
    } else if (cmd === 'encrypt') {
        const ck = loadCk(a[0]);
        for (const w of WIDTHS)
            for (const [edge, v] of [['0', 0n], ['max', max(w)]])
                fs.writeFileSync(path.join(a[1], `${w}_${edge}.ct`),
                                 TYPES[w].encrypt_with_client_key(jsValue(w, v), ck)
                                     .safe_serialize(LIMIT));
    } else if (cmd === 'encrypt-values') {
        const ck = loadCk(a[0]);
        const w = Number(a[2]);
        a.slice(3).forEach((v, i) => fs.writeFileSync(
            path.join(a[1], `${i}.ct`),
            TYPES[w].encrypt_with_client_key(jsValue(w, BigInt(v)), ck).safe_serialize(LIMIT)));
    } else if (cmd === 'list' || cmd === 'list-expand') {
        const pk = loadPk(a[0]);
        const w = Number(a[2]);
        const values = a.slice(3).map(BigInt);
        const b = tfhe.CompactCiphertextList.builder(pk);
        pushAll(b, w, values);
        const list = b.build();
        if (cmd === 'list') {
            fs.writeFileSync(a[1], list.safe_serialize(LIMIT));
        } else {
            const ex = list.expand();
            values.forEach((_, i) => fs.writeFileSync(path.join(a[1], `${w}_${i}.ct`),
                                                      ex[getters(w)](i).safe_serialize(LIMIT)));
        }
    } else if (cmd === 'list-packed') {
        const b = tfhe.CompactCiphertextList.builder(loadPk(a[0]));
        b.push_boolean(true);
        for (const w of [8, 16, 32, 64]) pushAll(b, w, [max(w)]);
        b.push_u8(0);
        fs.writeFileSync(a[1], b.build_packed().safe_serialize(LIMIT));
    } else if (cmd === 'decrypt-list') {
        const ck = loadCk(a[0]);
        const w = Number(a[2]);
        if (process.env.TFHE_NODE_SERVER_KEY) tfhe.set_server_key(tfhe.TfheServerKey.new(ck));
        const ex = tfhe.CompactCiphertextList.safe_deserialize(read(a[1]), LIMIT).expand();
        const want = a.slice(3).map(BigInt);
        if (ex.len() !== want.length) {
            console.error(`node-tfhe: list of ${ex.len()} values, expected ${want.length}`);
            process.exit(1);
        }
        want.forEach((v, i) => {
            const got = ex[getters(w)](i).decrypt(ck);
            const g = typeof got === 'boolean' ? BigInt(got ? 1 : 0) : BigInt(got);
            if (g !== v) {
                console.error(`node-tfhe: list value ${i} is ${g}, expected ${v}`);
                process.exit(1);
            }
        });
    } else if (cmd === 'decrypt') {
        const got = decrypt(loadCk(a[0]), Number(a[1]), a[2]);
        if (got !== BigInt(a[3])) {
            console.error(`node-tfhe decrypted ${got} from ${a[2]}, expected ${a[3]}`);
            process.exit(1);
        }
    } else if (cmd === 'decrypt-edges') {
        const ck = loadCk(a[0]);
        for (const w of WIDTHS)
            for (const [edge, v] of [['0', 0n], ['max', max(w)]]) {
                const got = decrypt(ck, w, path.join(a[1], `${w}_${edge}.ct`));
                if (got !== v) {
                    console.error(`node-tfhe: ${w}_${edge}.ct decrypts to ${got}, expected ${v}`);
                    process.exit(1);
                }
            }
    } else {
        console.error(`unknown command ${cmd}`);
        process.exit(2);
    }
}

main(process.argv.slice(2));
