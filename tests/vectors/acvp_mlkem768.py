#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Extracts the ML-KEM-768 subset of the NIST ACVP vectors into mlkem768_acvp.txt.

Source: usnistgov/ACVP-Server gen-val/json-files, ML-KEM-keyGen-FIPS203 and
ML-KEM-encapDecap-FIPS203 (prompt.json + expectedResults.json, ACVP-Server
release v1.1.0.40, vsId 42). Usage: acvp_mlkem768.py DIR > mlkem768_acvp.txt,
where DIR holds keyGen_prompt.json, keyGen_expectedResults.json,
encapDecap_prompt.json and encapDecap_expectedResults.json.

Output, one case a line, hex upper case, fields separated by one space:
  keygen  tcId d z ek dk
  encaps  tcId ek m c k
  decaps  tcId dk c k          (includes ACVP's modified ciphertexts)
  ekcheck tcId ek 1|0          (encapsulationKeyCheck: 1 = valid)
  dkcheck tcId dk 1|0          (decapsulationKeyCheck: 1 = valid)
"""
import json
import os
import sys

KEEP = {"keygen": 10, "encapsulation": 10}


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def joined(prompt, expected):
    exp = {g["tgId"]: {t["tcId"]: t for t in g["tests"]} for g in expected["testGroups"]}
    for g in prompt["testGroups"]:
        if g["parameterSet"] != "ML-KEM-768":
            continue
        for t in g["tests"]:
            yield g, {**t, **exp[g["tgId"]][t["tcId"]]}


def main():
    d = sys.argv[1]
    out = ["# NIST ACVP ML-KEM-768 (FIPS 203) vectors, ACVP-Server v1.1.0.40; see acvp_mlkem768.py"]
    n = 0
    for _, t in joined(load(d, "keyGen_prompt.json"), load(d, "keyGen_expectedResults.json")):
        if n < KEEP["keygen"]:
            out.append(f"keygen {t['tcId']} {t['d']} {t['z']} {t['ek']} {t['dk']}")
            n += 1
    n = 0
    for g, t in joined(load(d, "encapDecap_prompt.json"), load(d, "encapDecap_expectedResults.json")):
        fn = g["function"]
        if fn == "encapsulation" and n < KEEP["encapsulation"]:
            out.append(f"encaps {t['tcId']} {t['ek']} {t['m']} {t['c']} {t['k']}")
            n += 1
        elif fn == "decapsulation":
            out.append(f"decaps {t['tcId']} {t['dk']} {t['c']} {t['k']}")
        elif fn == "encapsulationKeyCheck":
            out.append(f"ekcheck {t['tcId']} {t['ek']} {int(t['testPassed'])}")
        elif fn == "decapsulationKeyCheck":
            out.append(f"dkcheck {t['tcId']} {t['dk']} {int(t['testPassed'])}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
