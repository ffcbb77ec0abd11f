#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chaos/invariants.py - the chaos suite's end-of-run checks
# (owned by the chaos suite). Reads what chaos.sh collected under WORK/collect
# (every node's API answers, `runc list` of every node's root, the chain's
# registry events) and WORK/submitted.txt, prints one line per invariant and
# exits 1 when any is violated. A node's API shows a job as its role allows
# (hook H4 of docs/THREAT_MODEL.md): its submitter's node whether each
# replica is placed (state, notes), never where unless it runs it; a node
# running a replica that replica; any other node only whether it is decided.
# So the placement is the union of the runners' own views:
#   settled     every accepted job's replicas are placed (assigned, running,
#               exited) or explicitly failed (failed, unschedulable) in its
#               submitter's view and in every runner's; every other node
#               that knows the job shows it decided
#   consistent  every runner's own view agrees with the submitter's (placed
#               or failed alike), no replica is shown by two runners, and
#               every replica the submitter shows placed is shown by a node
#               (when every node knows the job)
#   redacted    no node shows where another node's replica runs: the
#               submitter's view names no node but itself (and no signature,
#               commitment or digest of a placed replica it does not run),
#               any other node's names no node but itself
#   no_loss     every accepted job is still known to its submitter and to a
#               majority of the nodes, after every restart
#   catch_up    every accepted job is known to every node (one that was down,
#               cut off or out of disk when it was announced included)
#   containers  exactly one running container per running long replica on
#               the whole cluster, on the node that shows it runs it;
#               never two; none for a replica that ended or failed
#   anchors     every anchor event on chain is accounted for by assignments
#               (the union of the views that show a commitment: runners',
#               and submitters' for unschedulable replicas; a replica's rows
#               are its history: a node chosen again for the replica it
#               runs records that later assignment as the current one and
#               keeps its container, so it shows both commitments)
#               (an anchored commitment no view shows is looked up in the
#               nodes' stores: an assignment whose node never stored it -
#               killed or out of disk as it went out - and that a later one
#               superseded before the node was back is shown by no view, as
#               only the node it names may show it; it is reported as info,
#               a commitment in no store at all is a violation)
#               (a batch's count = the commitments recorded with its root,
#               each one an assignment's); no commitment anchored in two
#               transactions; at most one batch per epoch; every anchor a node
#               shows is on chain; the contract verifies each shown proof
#   anchored    every assignment is anchored on chain
# --quick only checks the jobs lists (every replica settled in its submitter's
# list, every job decided in the others') and
# answers by its exit status; --count prints how many (node, job) pairs are
# not settled yet: chaos.sh polls it while the cluster settles.
import argparse
import json
import os
import sqlite3
import subprocess
import sys

SETTLED = {"assigned", "running", "exited", "failed", "unschedulable"}


def load(path, default):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else default
    except (OSError, ValueError):
        return default


def rows_of(x, key):
    if isinstance(x, dict):
        x = x.get(key, [])
    return x if isinstance(x, list) else []


def fields_of(text):
    out = {}
    for kv in text.split():
        if "=" in kv:
            k, v = kv.split("=", 1)
            out[k] = v
    return out


def strip0x(h):
    return h[2:] if isinstance(h, str) and h.startswith("0x") else (h or "")


class Checker:
    def __init__(self, a):
        self.a = a
        self.c = os.path.join(a.work, "collect")
        self.bad = {}
        self.info = {}
        self.submitted = []
        with open(os.path.join(a.work, "submitted.txt")) as f:
            for line in f:
                p = line.split()
                if len(p) >= 5:
                    self.submitted.append({"name": p[0], "node": int(p[1]), "kind": p[2],
                                           "replicas": int(p[3]), "rc": int(p[4]),
                                           "id": p[5] if len(p) > 5 and p[4] == "0" else None})
        self.accepted = [s for s in self.submitted if s["id"]]
        self.n = a.nodes
        self.status = {}  # node -> job id -> status object
        self.peer = {}    # peer id -> node index
        for i in range(1, self.n + 1):
            self.status[i] = {s.get("id"): s for s in load(os.path.join(self.c, "n%d.status.json" % i), [])
                              if isinstance(s, dict)}
            j = load(os.path.join(a.work, "join%d.json" % i), {})
            if j.get("peer_id"):
                self.peer[j["peer_id"]] = i

    def fail(self, inv, msg):
        self.bad.setdefault(inv, []).append(msg)

    def replica_view(self, job, node):
        st = self.status[node].get(job["id"])
        if not st:
            return None
        return {r.get("replica"): r for r in st.get("replica_states", [])}

    def unsettled(self):
        """The (node, job) pairs not settled yet: an accepted job not settled
        in its submitter's jobs list, or not decided in another list that has
        it (a node that never learned a job will not by waiting: that is
        catch_up's finding, not a reason to wait)."""
        left = 0
        for i in range(1, self.n + 1):
            rows = {r.get("id"): r for r in rows_of(load(os.path.join(self.c, "n%d.jobs.json" % i), []), "jobs")
                    if isinstance(r, dict)}
            for job in self.accepted:
                row = rows.get(job["id"])
                if row is None:
                    left += i == job["node"]
                elif row.get("state") not in (SETTLED if i == job["node"] else {"decided"}):
                    left += 1
        return left

    def quick(self):
        """0 when nothing is left to settle (unsettled)."""
        return 1 if self.unsettled() else 0

    @staticmethod
    def placed_or_failed(state):
        return "failed" if state in ("failed", "unschedulable") else "placed"

    def check_settled(self, job, i, view, st):
        """The replicas node i shows (all of them on the submitter's node, its
        own on a runner) are settled; another node shows the job decided."""
        for r in (range(job["replicas"]) if i == job["node"] else
                  [r for r, row in view.items() if "state" in row]):
            row = view.get(r) or {}
            if row.get("state", "none") not in SETTLED:
                self.fail("settled", "%s replica %d is %s on node %d (%s)"
                          % (job["name"], r, row.get("state", "none"), i, row.get("note", "")))
        if i != job["node"] and not st.get("decided"):
            self.fail("settled", "%s (%s) is undecided on node %d" % (job["name"], job["id"][:12], i))

    def me(self, i):
        return next((p for p, n in self.peer.items() if n == i), None)

    def check_submitter_view(self, job, st):
        """The submitter's node names no node but itself; a placed row it does
        not run keeps no signature, commitment or digest (redacted)."""
        me, i = self.me(job["node"]), job["node"]
        for row in st.get("replica_states", []) + st.get("assignments", []):
            node = row.get("node")
            if node and node != me:
                self.fail("redacted", "node %d (the submitter) shows %s replica %s on node %s"
                          % (i, job["name"], row.get("replica"), self.peer.get(node, node)))
            elif not node and row.get("placed") is True and \
                    any(k in row for k in ("signature", "commitment", "output_digest")):
                self.fail("redacted", "node %d (the submitter) shows the commitment of %s replica %s"
                          % (i, job["name"], row.get("replica")))
        for a in st.get("anchors", []):
            # (an anchor's epoch is its batch's: tied by replica to a row shown in full)
            runs = any(r.get("replica") == a.get("replica") and "commitment" in r
                       for r in st.get("assignments", []))
            if "root" in a and not runs:
                self.fail("redacted", "node %d (the submitter) shows the anchor root of %s replica %s"
                          % (i, job["name"], a.get("replica")))

    def check_runner_view(self, job, i, view, ref):
        """Node i did not submit the job: it names no node but itself (redacted),
        and each replica it shows agrees with the submitter's view."""
        me = self.me(i)
        for r, row in view.items():
            if "node" in row and row.get("node") != me:
                self.fail("redacted", "node %d shows %s replica %d on node %s"
                          % (i, job["name"], r, self.peer.get(row.get("node"), row.get("node"))))
            if "state" not in row or ref is None:
                continue
            want = ref.get(r) or {}
            if self.placed_or_failed(want.get("state")) != self.placed_or_failed(row.get("state")):
                self.fail("consistent", "%s replica %d: node %d shows itself %s, the submitter shows %s"
                          % (job["name"], r, i, row.get("state"), want.get("state")))

    def runners(self, job, r):
        """The nodes whose own view shows that they run replica r of job."""
        out = []
        for i in range(1, self.n + 1):
            row = (self.replica_view(job, i) or {}).get(r) or {}
            if row.get("node") and row.get("node") == self.me(i):
                out.append(i)
        return out

    def check_placed_shown(self, job, ref):
        """Every replica the submitter shows placed is shown by exactly one node
        (none: only reported when every node knows the job, else catch_up
        reports it)."""
        everyone = all(self.replica_view(job, i) is not None for i in range(1, self.n + 1))
        for r, want in (ref or {}).items():
            on = self.runners(job, r)
            if len(on) > 1:
                self.fail("consistent", "%s replica %d is shown running on nodes %s" % (job["name"], r, on))
            if self.placed_or_failed(want.get("state")) == "placed" and not on and everyone:
                self.fail("consistent", "%s replica %d is %s (submitter's view), no node shows it"
                          % (job["name"], r, want.get("state")))

    def check_jobs(self):
        for job in self.accepted:
            knowers = 0
            ref = self.replica_view(job, job["node"])
            for i in range(1, self.n + 1):
                view = self.replica_view(job, i)
                if view is None:
                    self.fail("catch_up", "job %s (%s, submitted on node %d) unknown to node %d"
                              % (job["name"], job["id"][:12], job["node"], i))
                    if i == job["node"]:
                        self.fail("no_loss", "job %s (%s) lost by its own submitter, node %d"
                                  % (job["name"], job["id"][:12], i))
                    continue
                knowers += 1
                self.check_settled(job, i, view, self.status[i][job["id"]])
                if i != job["node"]:
                    self.check_runner_view(job, i, view, ref)
                else:
                    self.check_submitter_view(job, self.status[i][job["id"]])
            self.check_placed_shown(job, ref)
            if knowers * 2 <= self.n:
                self.fail("no_loss", "job %s (%s) known to %d of %d nodes only"
                          % (job["name"], job["id"][:12], knowers, self.n))
        self.info["submissions"] = "%d made, %d accepted, %d refused by the CLI" % (
            len(self.submitted), len(self.accepted), len(self.submitted) - len(self.accepted))

    def check_containers(self):
        running = {}  # (id16, replica) -> [node]
        for i in range(1, self.n + 1):
            for c in rows_of(load(os.path.join(self.c, "n%d.runc.json" % i), []), "containers"):
                if c.get("status") != "running":
                    continue
                # runc's id is a hash; the container's state.json names it veil-<job16>-<replica>
                st = load(os.path.join(self.a.work, "n%d" % i, "containers", c.get("id", ""), "state.json"), {})
                p = str(st.get("name", "")).split("-")
                if len(p) == 3 and p[0] == "veil":
                    running.setdefault((p[1], int(p[2])), []).append(i)
                else:
                    self.fail("containers", "node %d runs a container not named by Veil: %s" % (i, c.get("id")))
        known = set()
        n_running = 0
        for job in self.accepted:
            ref = self.replica_view(job, job["node"]) or {}
            for r in range(job["replicas"]):
                key = (job["id"][:16], r)
                known.add(key)
                on = running.get(key, [])
                rs = ref.get(r) or {}
                on_view = self.runners(job, r)
                st, where = rs.get("state"), on_view[0] if len(on_view) == 1 else None
                if len(on) > 1:
                    self.fail("containers", "%s replica %d runs on nodes %s at once" % (job["name"], r, on))
                if job["kind"] == "long" and st == "running":
                    n_running += 1
                    if on != [where]:
                        self.fail("containers", "%s replica %d is running on node %s (its runner's view), "
                                  "runc runs it on %s" % (job["name"], r, where, on or "no node"))
                elif on and st in ("failed", "exited", "unschedulable"):
                    self.fail("containers", "%s replica %d is %s but still runs on node(s) %s"
                              % (job["name"], r, st, on))
        for key, on in running.items():
            if key not in known:
                self.fail("containers", "container veil-%s-%d runs on %s but no accepted job has it"
                          % (key[0], key[1], on))
        self.info["containers"] = "%d long replicas running, %d running containers" % (
            n_running, sum(len(v) for v in running.values()))

    def chain_events(self):
        ev = []
        try:
            with open(os.path.join(self.c, "events.json")) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("{"):
                        ev.append(json.loads(line))
        except OSError:
            pass
        return ev

    def stored_assignments(self):
        """commitment -> (job, replica, epoch, node) over every node's store
        (read-only): the assignments no privacy-trimmed view shows."""
        out = {}
        for i in range(1, self.n + 1):
            path = os.path.join(self.a.work, "n%d" % i, "state.db")
            try:
                db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
                rows = db.execute("SELECT commitment, job_id, replica, epoch, node FROM assignments").fetchall()
                db.close()
            except sqlite3.Error:
                continue
            for com, job, rep, ep, node in rows:
                if com:
                    out[strip0x(com)] = (job, rep, ep, node)
        return out

    def check_anchors(self):
        assignments = {}  # commitment -> (job, replica, epoch)
        anchor_rows = []  # (node, row)
        for i in range(1, self.n + 1):
            for r in rows_of(load(os.path.join(self.c, "n%d.assignments.json" % i), []), "assignments"):
                if r.get("commitment"):  # the submitter's view of a placed row has none (H4)
                    assignments[strip0x(r.get("commitment"))] = (r.get("job_id"), r.get("replica"), r.get("epoch"))
            for r in rows_of(load(os.path.join(self.c, "n%d.anchors.json" % i), []), "anchors"):
                anchor_rows.append((i, r))
        ev = self.chain_events()
        if not ev and anchor_rows:
            err = load(os.path.join(self.c, "events.err"), "")
            self.fail("anchors", "could not read the chain's events: %s" % str(err)[:200])
            return
        on_chain_tx = {}
        batches_per_epoch = {}
        for e in ev:
            f = fields_of(e.get("fields", ""))
            if e.get("event") == "BatchAnchored":
                on_chain_tx[e["tx_hash"]] = ("batch", strip0x(f.get("merkle_root")), int(f.get("count", 0)))
                batches_per_epoch.setdefault(f.get("epoch"), []).append(e["tx_hash"])
            elif e.get("event") == "DeploymentAnchored":
                com = [strip0x(v) for k, v in f.items() if k not in ("cluster", "job", "epoch")]
                on_chain_tx[e["tx_hash"]] = ("single", com, 1)
        for ep, txs in batches_per_epoch.items():
            if len(txs) > 1:
                self.fail("anchors", "epoch %s anchored by %d batches: %s" % (ep, len(txs), txs))
        by_root = {}
        txs_of_com = {}
        stored = None
        unseen = set()  # anchored, in a store, in no view: superseded before its node was back
        for i, r in anchor_rows:
            tx, com, root = r.get("tx_hash"), strip0x(r.get("commitment")), strip0x(r.get("root"))
            if tx not in on_chain_tx:
                self.fail("anchors", "node %d shows commitment %s anchored by tx %s, which is not on chain"
                          % (i, com[:12], tx))
                continue
            if com not in assignments:
                stored = self.stored_assignments() if stored is None else stored
                if com in stored:
                    unseen.add(com)
                else:
                    self.fail("anchors", "node %d: anchored commitment %s matches no assignment" % (i, com[:12]))
            by_root.setdefault(root, set()).add(com)
            txs_of_com.setdefault(com, set()).add(tx)
        for com, txs in txs_of_com.items():
            if len(txs) > 1:
                self.fail("anchors", "commitment %s (%s) anchored in %d transactions: %s"
                          % (com[:12], assignments.get(com), len(txs), sorted(txs)))
        for tx, (kind, root, count) in on_chain_tx.items():
            if kind == "batch":
                got = len(by_root.get(root, ()))
                if got != count:
                    self.fail("anchors", "batch tx %s (root %s) holds %d leaves, the nodes account for %d"
                              % (tx, root[:12], count, got))
            elif not any(c in txs_of_com for c in root):
                self.fail("anchors", "single anchor tx %s names no commitment a node recorded" % tx)
        self.verify_proofs(anchor_rows, assignments, on_chain_tx)
        missing = [c for c in assignments if c not in txs_of_com]
        for c in missing:
            self.fail("anchored", "assignment %s (job %s replica %s epoch %s) has no anchor on chain"
                      % (c[:12], str(assignments[c][0])[:12], assignments[c][1], assignments[c][2]))
        self.info["anchors"] = "%d assignments, %d anchored; %d batch and %d single anchor transactions" % (
            len(assignments), len(assignments) - len(missing),
            sum(1 for v in on_chain_tx.values() if v[0] == "batch"),
            sum(1 for v in on_chain_tx.values() if v[0] == "single"))
        if unseen:
            self.info["anchors_unseen"] = (
                "%d anchored assignment(s) held by the stores but shown by no view (their node never "
                "stored them; superseded before it was back): %s"
                % (len(unseen), ", ".join("%s (job %s replica %s node %s)" % (
                    c[:12], str(stored[c][0])[:12], stored[c][1], self.peer.get(stored[c][3], stored[c][3][:16]))
                    for c in sorted(unseen))))

    def verify_proofs(self, anchor_rows, assignments, on_chain_tx):
        if not self.a.final:
            return
        seen = set()
        for i, r in anchor_rows:
            com = strip0x(r.get("commitment"))
            if i != 1 or com in seen or r.get("tx_hash") not in on_chain_tx or com not in assignments:
                continue
            seen.add(com)
            proof = r.get("proof")
            if proof is None:
                proof = json.loads(r.get("proof_json") or "[]")
            arr = "[" + ",".join("0x" + strip0x(p) for p in proof) + "]"
            out = subprocess.run([self.a.cast, "call", self.a.contract,
                                  "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)",
                                  "0x" + strip0x(r.get("root")), "1", "0x" + assignments[com][0],
                                  "0x" + com, arr, "--rpc-url", self.a.rpc],
                                 capture_output=True, text=True)
            if out.stdout.strip() != "true":
                self.fail("anchors", "verifyInclusion refuses commitment %s: %s %s"
                          % (com[:12], out.stdout.strip(), out.stderr.strip()[:120]))

    def report(self):
        names = ["settled", "consistent", "redacted", "no_loss", "catch_up", "containers", "anchors",
                 "anchored"]
        for k, v in self.info.items():
            print("chaos: %s: %s" % (k, v))
        for name in names:
            msgs = self.bad.get(name, [])
            print("INVARIANT %s: %s" % (name, "ok" if not msgs else "VIOLATED (%d)" % len(msgs)))
            for m in msgs[:12]:
                print("    " + m)
            if len(msgs) > 12:
                print("    ... %d more" % (len(msgs) - 12))
        with open(os.path.join(self.a.work, "result.json"), "w") as f:
            json.dump({"invariants": {n: self.bad.get(n, []) for n in names}, "info": self.info,
                       "submitted": self.submitted}, f, indent=1)
        return 1 if self.bad else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--rpc", required=True)
    p.add_argument("--contract", required=True)
    p.add_argument("--cast", required=True)
    p.add_argument("--final", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--count", action="store_true")
    a = p.parse_args()
    ch = Checker(a)
    if a.quick:
        return ch.quick()
    if a.count:
        print(ch.unsettled())
        return 0
    ch.check_jobs()
    ch.check_containers()
    ch.check_anchors()
    return ch.report()


if __name__ == "__main__":
    sys.exit(main())
