#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# pubkey_pem.py PEER_ID - the Ed25519 public key inside a libp2p peer ID
# (base58btc, identity multihash of the PublicKey protobuf) as a PEM
# SubjectPublicKeyInfo: what `veil guardian cert --pubkey` takes, so that
# Guardian certifies the node's own libp2p key.
import base64
import sys

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(text):
    n = 0
    for c in text:
        n = n * 58 + ALPHABET.index(c)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


mh = b58decode(sys.argv[1])
# identity multihash (0x00, length 36) of 08 01 12 20 || key
if len(mh) != 38 or mh[:6] != bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]):
    sys.exit("not an Ed25519 peer ID")
spki = bytes.fromhex("302a300506032b6570032100") + mh[6:]
print("-----BEGIN PUBLIC KEY-----")
print(base64.b64encode(spki).decode())
print("-----END PUBLIC KEY-----")
