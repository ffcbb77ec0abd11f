#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chaos/schedule.py - the chaos suite's fault schedule (owned
# by the chaos suite): a pure function of (seed, seconds, nodes). It prints one
# JSON object: the faults with their parameters and the flat, time-ordered list
# of actions the driver (chaos.sh) carries out. Nothing here reads the clock or
# the machine, so the same seed always gives the same schedule.
#
#   schedule.py SEED SECONDS NODES
#
# Node 1 is the designated decryptor (the cluster's decryption key holder).
# Fault kinds: kill (kill -9, restart later), kill_mid_round (a job is
# submitted, then a scheduler or the decryptor is killed while its round is
# under way), pause (SIGSTOP longer than SWIM's longest suspicion timeout),
# partition (nftables drops between two groups), loss (nftables numgen drop on
# one node's p2p traffic), rpc_down (every node's chain RPC traffic dropped or
# refused), reorg (anvil_reorg), disk_full (the one node on a small tmpfs has
# its data dir filled).
import json
import random
import sys

KINDS = ["kill", "kill_mid_round", "pause", "partition", "loss", "rpc_down", "reorg", "disk_full"]
# SWIM here: probe 1 s, suspicion multiplier 4, max 6x: at most 24 s for 5 nodes.
PAUSE_MIN_S = 30


def busy_nodes(faults, t0, t1):
    """Nodes that some fault occupies at any time in [t0, t1)."""
    out = set()
    for f in faults:
        if f["t"] < t1 and t0 < f["t"] + f["duration"] + 2:
            out.update(f.get("nodes", []))
    return out


def global_busy(faults, kind, t0, t1):
    return any(f["kind"] == kind and f["t"] < t1 and t0 < f["t"] + f["duration"] + 2
               for f in faults)


def make_fault(rng, kind, t, n, faults, disk_node):
    free = [i for i in range(1, n + 1) if i not in busy_nodes(faults, t, t + 45)]
    f = {"t": t, "kind": kind}
    if kind in ("kill", "pause", "loss"):
        if not free:
            return None
        f["nodes"] = [rng.choice(free)]
        if kind == "kill":
            f["duration"] = rng.randint(2, 10)
        elif kind == "pause":
            f["duration"] = rng.randint(PAUSE_MIN_S, PAUSE_MIN_S + 8)
        else:
            f["duration"] = rng.randint(15, 30)
            f["percent"] = rng.choice([10, 20, 30])
    elif kind == "kill_mid_round":
        # the decryptor half of the time, else any node (a scheduler of the
        # round with probability 3/N: the schedulers are rendezvous-chosen)
        target = 1 if rng.random() < 0.5 else rng.randint(2, n)
        if target not in free:
            return None
        f["nodes"] = [target]
        f["delay_ms"] = rng.randint(200, 3000)
        f["duration"] = rng.randint(3, 8)
    elif kind == "partition":
        if len(free) < 2:
            return None
        size = rng.choice([1, 2]) if n >= 5 else 1
        minority = sorted(rng.sample(free, min(size, len(free))))
        f["nodes"] = minority
        f["other"] = [i for i in range(1, n + 1) if i not in minority]
        f["duration"] = rng.randint(15, 30)
    elif kind == "rpc_down":
        if global_busy(faults, "rpc_down", t, t + 30):
            return None
        f["duration"] = rng.randint(10, 25)
        f["mode"] = rng.choice(["drop", "reject"])
    elif kind == "reorg":
        f["duration"] = 0
        f["depth"] = rng.randint(1, 2)  # within chain.confirmations (2)
    elif kind == "disk_full":
        if disk_node not in free:
            return None
        f["nodes"] = [disk_node]
        f["duration"] = rng.randint(15, 30)
    return f


def job_spec(rng, k):
    r = rng.random()
    if r < 0.6:
        return {"name": "long%d" % k, "kind": "long", "replicas": rng.choice([1, 1, 1, 2])}
    if r < 0.9:
        return {"name": "short%d" % k, "kind": "short", "replicas": 1}
    return {"name": "huge%d" % k, "kind": "unschedulable", "replicas": 1}


def down_at(faults, t, n):
    """Nodes whose API cannot take a submission at time t (killed, paused,
    disk full: the CLI would hang or fail for a reason of the fault)."""
    down = set()
    for f in faults:
        if f["kind"] in ("kill", "kill_mid_round", "pause", "disk_full"):
            start = f["t"] + f.get("delay_ms", 0) / 1000.0
            if start - 1 <= t < start + f["duration"] + 3:
                down.update(f["nodes"])
    return down


def build(seed, seconds, n):
    rng = random.Random(seed)
    disk_node = rng.randint(2, n)
    faults = []
    # every kind once (in a seeded order) before any repeats, then at random
    order = KINDS[:]
    rng.shuffle(order)
    n_faults = max(len(KINDS), seconds // 10)
    span = max(seconds - 10, 10)
    for k in range(n_faults):
        kind = order[k] if k < len(order) else rng.choice(KINDS)
        t = 3 + k * span // n_faults + rng.randint(0, 3)
        for _ in range(4):  # a busy target: try another kind
            f = make_fault(rng, kind, t, n, faults, disk_node)
            if f:
                faults.append(f)
                break
            kind = rng.choice(KINDS)
    jobs = []
    t = 1.0
    k = 0
    while t < seconds:
        spec = job_spec(rng, k)
        spec["t"] = round(t, 1)
        spec["seq"] = k
        jobs.append(spec)
        k += 1
        # a round costs each scheduler tens of seconds of FHE on a loaded
        # 2-core machine: faster submission only queues rounds past their deadline
        t += rng.uniform(12, 25)
    for f in faults:  # the job whose round the kill interrupts
        if f["kind"] == "kill_mid_round":
            jobs.append({"name": "mid%d" % k, "kind": "long", "replicas": 1, "t": f["t"],
                         "seq": k, "mid_round": True})
            k += 1
    for j in jobs:
        up = [i for i in range(1, n + 1) if i not in down_at(faults, j["t"], n)]
        j["submitter"] = rng.choice(up) if up else 1
    return {"seed": seed, "seconds": seconds, "nodes": n, "disk_node": disk_node,
            "faults": faults, "jobs": sorted(jobs, key=lambda x: (x["t"], x["seq"])),
            "actions": actions(faults, jobs)}


def actions(faults, jobs):
    acts = []
    for j in jobs:
        acts.append({"t": j["t"], "do": "submit", "job": j["name"], "node": j["submitter"]})
    for f in faults:
        t, d, kind = f["t"], f["duration"], f["kind"]
        if kind == "kill":
            acts += [{"t": t, "do": "kill", "node": f["nodes"][0]},
                     {"t": t + d, "do": "start", "node": f["nodes"][0]}]
        elif kind == "kill_mid_round":
            tk = t + f["delay_ms"] / 1000.0
            acts += [{"t": round(tk, 3), "do": "kill", "node": f["nodes"][0]},
                     {"t": round(tk + d, 3), "do": "start", "node": f["nodes"][0]}]
        elif kind == "pause":
            acts += [{"t": t, "do": "stop", "node": f["nodes"][0]},
                     {"t": t + d, "do": "cont", "node": f["nodes"][0]}]
        elif kind == "partition":
            acts += [{"t": t, "do": "partition", "nodes": f["nodes"], "other": f["other"]},
                     {"t": t + d, "do": "heal", "nodes": f["nodes"], "other": f["other"]}]
        elif kind == "loss":
            acts += [{"t": t, "do": "loss", "node": f["nodes"][0], "percent": f["percent"]},
                     {"t": t + d, "do": "unloss", "node": f["nodes"][0]}]
        elif kind == "rpc_down":
            acts += [{"t": t, "do": "rpc_down", "mode": f["mode"]},
                     {"t": t + d, "do": "rpc_up"}]
        elif kind == "reorg":
            acts.append({"t": t, "do": "reorg", "depth": f["depth"]})
        elif kind == "disk_full":
            acts += [{"t": t, "do": "disk_fill", "node": f["nodes"][0]},
                     {"t": t + d, "do": "disk_free", "node": f["nodes"][0]}]
    # submissions first at equal times (a mid-round kill follows its job)
    acts.sort(key=lambda a: (a["t"], a["do"] != "submit"))
    return acts


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: schedule.py SEED SECONDS NODES\n")
        return 2
    seed, seconds, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    if seconds < 10 or n < 3:
        sys.stderr.write("schedule.py: need SECONDS >= 10 and NODES >= 3\n")
        return 2
    json.dump(build(seed, seconds, n), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
