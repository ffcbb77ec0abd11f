// SPDX-License-Identifier: Apache-2.0
// contracts/test/VeilRegistry.t.sol - forge tests of VeilRegistry: clusters,
// nodes, governance, anchoring, Merkle inclusion, disputes, access control,
// revert paths and fuzzing. forge-std is not available offline, so the few
// cheatcodes used are declared here.
pragma solidity ^0.8.24;

import {VeilRegistry} from "../src/VeilRegistry.sol";

interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function prank(address) external;
    function startPrank(address) external;
    function stopPrank() external;
    function expectRevert(bytes calldata) external;
    function expectRevert() external;
    function warp(uint256) external;
    function assume(bool) external;
    function snapshotState() external returns (uint256);
    function revertToState(uint256) external returns (bool);
}

contract VeilRegistryTest {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    VeilRegistry reg;
    address constant OP1 = address(0x1001);
    address constant OP2 = address(0x1002);
    address constant OP3 = address(0x1003);
    address constant NODE1 = address(0x2001);
    address constant NODE2 = address(0x2002);
    address constant NODE3 = address(0x2003);
    address constant STRANGER = address(0x3001);
    uint64 cid;
    /// keccak256("BatchAnchored(uint64,bytes32,uint256)") without its low 8 bytes.
    bytes32 constant BATCH_PREFIX =
        keccak256("BatchAnchored(uint64,bytes32,uint256)") & ~bytes32(uint256(type(uint64).max));
    /// A realistic epoch: unix time / 10 s (the default telemetry interval) in
    /// November 2025 (four significant bytes, as every epoch until the year 3331).
    uint64 constant EPOCH = 176_350_000;

    function assertTrue(bool b, string memory what) internal pure {
        require(b, what);
    }

    function setUp() public {
        reg = new VeilRegistry();
        string[] memory orgs = new string[](2);
        orgs[0] = "acme";
        orgs[1] = "globex";
        address[] memory ops = new address[](3);
        ops[0] = OP1;
        ops[1] = OP2;
        ops[2] = OP3;
        uint32[] memory opOrgs = new uint32[](3);
        opOrgs[0] = 0;
        opOrgs[1] = 1;
        opOrgs[2] = 1;
        cid = reg.createCluster("prod", orgs, ops, opOrgs, 2);
        vm.prank(OP1);
        reg.registerNode(cid, NODE1, abi.encodePacked(bytes32(uint256(0xaa))));
        vm.prank(OP2);
        reg.registerNode(cid, NODE2, abi.encodePacked(bytes6(0x002408011220), bytes32(uint256(0xbb))));
    }

    /// anchorBatch's second word: clusterId << 96 | epoch << 32 | count.
    function pack(uint64 clusterId, uint64 epoch, uint32 count) internal pure returns (uint256) {
        return uint256(clusterId) << 96 | uint256(epoch) << 32 | count;
    }

    function samplePolicy() internal pure returns (VeilRegistry.Policy memory p) {
        p.allowedImageDigests = new bytes32[](2);
        p.allowedImageDigests[0] = keccak256("img1");
        p.allowedImageDigests[1] = keccak256("img2");
        p.schedulerPolicy = "binpack";
        p.schedulerWeights = new uint32[](2);
        p.schedulerWeights[0] = 3;
        p.schedulerWeights[1] = 7;
        p.fheKeyHash = keccak256("fhe");
        p.decryptors = new address[](1);
        p.decryptors[0] = OP1;
        p.guardianKeys = new bytes32[](1);
        p.guardianKeys[0] = keccak256("guardian");
        p.outcomesPerPeriod = 32;
        p.outcomePeriodSeconds = 3600;
        p.shardSize = 64;
        p.shardRedundancy = 2;
    }

    function testClusterCreated() public view {
        (string memory name, uint16 t, uint16 n, uint32 orgs,, uint256 active) = reg.getCluster(cid);
        assertTrue(keccak256(bytes(name)) == keccak256("prod"), "name");
        assertTrue(t == 2 && n == 3 && orgs == 2 && active == 2, "counts");
        (bool isOp, uint32 org) = reg.operatorOf(cid, OP3);
        assertTrue(isOp && org == 1, "op org");
        assertTrue(keccak256(bytes(reg.organizationName(cid, 1))) == keccak256("globex"), "org");
    }

    function testCreateClusterBadThreshold() public {
        string[] memory orgs = new string[](1);
        orgs[0] = "a";
        address[] memory ops = new address[](1);
        ops[0] = OP1;
        uint32[] memory opOrgs = new uint32[](1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidThreshold.selector, 2, 1));
        reg.createCluster("x", orgs, ops, opOrgs, 2);
    }

    function testCreateClusterDuplicateOperator() public {
        string[] memory orgs = new string[](1);
        orgs[0] = "a";
        address[] memory ops = new address[](2);
        ops[0] = OP1;
        ops[1] = OP1;
        uint32[] memory opOrgs = new uint32[](2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.AlreadyOperator.selector, 2, OP1));
        reg.createCluster("x", orgs, ops, opOrgs, 1);
    }

    function testNodeLookupAndActiveSet() public {
        assertTrue(reg.nodeByPeerId(abi.encodePacked(bytes32(uint256(0xaa)))) == NODE1, "raw");
        // Both forms of an Ed25519 peer ID find the same node.
        assertTrue(reg.nodeByPeerId(abi.encodePacked(bytes32(uint256(0xbb)))) == NODE2, "key");
        assertTrue(
            reg.nodeByPeerId(abi.encodePacked(bytes6(0x002408011220), bytes32(uint256(0xaa))))
                == NODE1,
            "multihash"
        );
        assertTrue(reg.activeNodeCount(cid) == 2, "count");
        vm.prank(OP1);
        reg.deactivateNode(NODE1);
        address[] memory act = reg.getActiveNodes(cid);
        assertTrue(act.length == 1 && act[0] == NODE2, "set after deactivate");
        assertTrue(!reg.isActiveNode(cid, NODE1), "inactive");
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NodeInactive.selector, NODE1));
        reg.deactivateNode(NODE1);
    }

    function testRegisterNodeAccessControl() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, cid, STRANGER));
        reg.registerNode(cid, NODE3, abi.encodePacked(bytes32(uint256(0xcc))));
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NodeAlreadyRegistered.selector, NODE1));
        reg.registerNode(cid, NODE1, abi.encodePacked(bytes32(uint256(0xcc))));
        vm.prank(OP1);
        vm.expectRevert(
            abi.encodeWithSelector(VeilRegistry.PeerIdTaken.selector, bytes32(uint256(0xaa)))
        );
        reg.registerNode(cid, NODE3, abi.encodePacked(bytes32(uint256(0xaa))));
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.UnknownCluster.selector, 99));
        reg.registerNode(99, NODE3, abi.encodePacked(bytes32(uint256(0xcc))));
    }

    function testDeactivateAccessControl() public {
        vm.prank(OP2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotNodeOperator.selector, NODE1, OP2));
        reg.deactivateNode(NODE1);
        vm.prank(NODE1); // a node may retire itself
        reg.deactivateNode(NODE1);
    }

    function testRegisterNode3() public {
        vm.prank(OP3);
        reg.registerNode(cid, NODE3, abi.encodePacked(bytes32(uint256(0xcc))));
    }

    function testPolicyProposalPasses() public {
        (, uint64 v0) = reg.getClusterPolicy(cid);
        assertTrue(v0 == 0, "no policy");
        vm.prank(OP1);
        uint256 pid = reg.proposePolicy(cid, samplePolicy(), 3600);
        (,, uint16 yes,, bool executed,) = reg.getProposal(pid);
        assertTrue(yes == 1 && !executed, "one vote");
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.AlreadyVoted.selector, pid, OP1));
        reg.vote(pid);
        vm.prank(OP2);
        reg.vote(pid);
        (VeilRegistry.Policy memory p, uint64 v) = reg.getClusterPolicy(cid);
        assertTrue(v == 1, "version");
        assertTrue(keccak256(bytes(p.schedulerPolicy)) == keccak256("binpack"), "name");
        assertTrue(p.allowedImageDigests.length == 2 && p.schedulerWeights[1] == 7, "fields");
        assertTrue(p.decryptors[0] == OP1 && p.fheKeyHash == keccak256("fhe"), "fields2");
        assertTrue(p.outcomesPerPeriod == 32 && p.outcomePeriodSeconds == 3600, "budget");
        assertTrue(p.shardSize == 64 && p.shardRedundancy == 2, "shards");
        vm.prank(OP3);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ProposalAlreadyExecuted.selector, pid));
        reg.vote(pid);
    }

    /// A threshold cluster's key holders and dealing hash pass the same M-of-N
    /// vote as any policy and are what getClusterPolicy returns, in share
    /// order; more holders than GF(16) has points are refused.
    function testKeyHolderPolicy() public {
        VeilRegistry.Policy memory p = samplePolicy();
        p.decryptors = new address[](4);
        p.decryptors[0] = NODE1;
        p.decryptors[1] = NODE2;
        p.decryptors[2] = OP2;
        p.decryptors[3] = OP3;
        p.fheKeyHash = keccak256(abi.encodePacked("public.key", "threshold.pub"));
        vm.prank(OP1);
        uint256 pid = reg.proposePolicy(cid, p, 3600);
        (VeilRegistry.Policy memory before, uint64 v0) = reg.getClusterPolicy(cid);
        assertTrue(v0 == 0 && before.decryptors.length == 0, "not before the vote");
        vm.prank(OP3);
        reg.vote(pid);
        (VeilRegistry.Policy memory got, uint64 v) = reg.getClusterPolicy(cid);
        assertTrue(v == 1 && got.decryptors.length == 4, "holders");
        assertTrue(got.decryptors[0] == NODE1 && got.decryptors[3] == OP3, "share order");
        assertTrue(got.fheKeyHash == p.fheKeyHash, "dealing hash");
        p.decryptors = new address[](16);
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.TooMany.selector, "key holders", 16, 15));
        reg.proposePolicy(cid, p, 3600);
    }

    /// The outcome budget passes with the policy; a budget without a period,
    /// which no node could enforce, is refused; 0 outcomes means no budget.
    function testOutcomeBudgetPolicy() public {
        VeilRegistry.Policy memory p = samplePolicy();
        p.outcomesPerPeriod = 2;
        p.outcomePeriodSeconds = 0;
        vm.prank(OP1);
        vm.expectRevert(
            abi.encodeWithSelector(VeilRegistry.InvalidArgument.selector, "outcomePeriodSeconds")
        );
        reg.proposePolicy(cid, p, 3600);
        p.outcomePeriodSeconds = 60;
        vm.prank(OP1);
        uint256 pid = reg.proposePolicy(cid, p, 3600);
        (VeilRegistry.Policy memory before,) = reg.getClusterPolicy(cid);
        assertTrue(before.outcomesPerPeriod == 0, "no budget before the vote");
        vm.prank(OP2);
        reg.vote(pid);
        (VeilRegistry.Policy memory got, uint64 v) = reg.getClusterPolicy(cid);
        assertTrue(v == 1 && got.outcomesPerPeriod == 2 && got.outcomePeriodSeconds == 60, "budget");
        p.outcomesPerPeriod = 0;
        p.outcomePeriodSeconds = 0;
        vm.prank(OP1);
        reg.proposePolicy(cid, p, 3600); // no budget: allowed
    }

    /// The shard size and redundancy pass with the policy (every node reads
    /// them from here); a redundancy above 3 schedulers per shard, which no
    /// node would run, is refused; 0/0 (unsharded, default) is allowed.
    function testShardPolicy() public {
        VeilRegistry.Policy memory p = samplePolicy();
        p.shardRedundancy = 4;
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidArgument.selector, "shardRedundancy"));
        reg.proposePolicy(cid, p, 3600);
        p.shardSize = 16;
        p.shardRedundancy = 3;
        vm.prank(OP1);
        uint256 pid = reg.proposePolicy(cid, p, 3600);
        (VeilRegistry.Policy memory before,) = reg.getClusterPolicy(cid);
        assertTrue(before.shardSize == 0 && before.shardRedundancy == 0, "unsharded before the vote");
        vm.prank(OP2);
        reg.vote(pid);
        (VeilRegistry.Policy memory got, uint64 v) = reg.getClusterPolicy(cid);
        assertTrue(v == 1 && got.shardSize == 16 && got.shardRedundancy == 3, "shard policy");
        assertTrue(got.outcomesPerPeriod == 32 && got.outcomePeriodSeconds == 3600, "packed neighbours");
        p.shardSize = 0;
        p.shardRedundancy = 0;
        vm.prank(OP1);
        reg.proposePolicy(cid, p, 3600); // unsharded: allowed
    }

    /// The scheduling switches pass with the policy (every node must apply
    /// them alike): 0 (both on) until a vote, then the voted bits; a bit
    /// beyond SCHED_NO_BATCH | SCHED_NO_NODE_KEYS is refused.
    function testSchedFlags() public {
        VeilRegistry.Policy memory p = samplePolicy();
        p.schedFlags = 4;
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidArgument.selector, "schedFlags"));
        reg.proposePolicy(cid, p, 3600);
        p.schedFlags = 3;
        vm.prank(OP1);
        uint256 pid = reg.proposePolicy(cid, p, 3600);
        (VeilRegistry.Policy memory before,) = reg.getClusterPolicy(cid);
        assertTrue(before.schedFlags == 0, "both on before the vote");
        vm.prank(OP2);
        reg.vote(pid);
        (VeilRegistry.Policy memory got, uint64 v) = reg.getClusterPolicy(cid);
        assertTrue(v == 1 && got.schedFlags == 3, "sched flags");
        assertTrue(got.shardSize == 64 && got.shardRedundancy == 2, "packed neighbours");
        assertTrue(got.outcomesPerPeriod == 32 && got.outcomePeriodSeconds == 3600, "budget kept");
    }

    function testProposalExpires() public {
        vm.prank(OP1);
        uint256 pid = reg.proposePolicy(cid, samplePolicy(), 60);
        (,,, uint64 expiry,,) = reg.getProposal(pid);
        vm.warp(expiry);
        vm.prank(OP2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ProposalExpired.selector, pid, expiry));
        reg.vote(pid);
    }

    function testProposalAccessControl() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, cid, STRANGER));
        reg.proposePolicy(cid, samplePolicy(), 3600);
        vm.prank(OP1);
        uint256 pid = reg.proposePolicy(cid, samplePolicy(), 3600);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, cid, STRANGER));
        reg.vote(pid);
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidArgument.selector, "ttl"));
        reg.proposePolicy(cid, samplePolicy(), 1);
    }

    function testAddOrganization() public {
        address[] memory ops = new address[](1);
        ops[0] = STRANGER;
        vm.prank(OP1);
        uint256 pid = reg.proposeOrganization(cid, "initech", ops, 3600);
        vm.prank(OP3);
        reg.vote(pid);
        (bool isOp, uint32 org) = reg.operatorOf(cid, STRANGER);
        assertTrue(isOp && org == 2, "new operator");
        (,, uint16 n, uint32 orgs,,) = reg.getCluster(cid);
        assertTrue(n == 4 && orgs == 3, "counts");
    }

    function testAnchorsOnlyByActiveNodes() public {
        vm.prank(NODE1);
        reg.anchorDeployment(cid, keccak256("job"), keccak256("assign"));
        vm.prank(NODE1);
        reg.anchorBatch_lqy32(keccak256("root"), pack(cid, 1, 256));
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, cid, STRANGER));
        reg.anchorDeployment(cid, keccak256("job"), keccak256("assign"));
        vm.prank(OP1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, cid, OP1));
        reg.anchorBatch_lqy32(keccak256("root"), pack(cid, 1, 256));
        vm.prank(OP1);
        reg.deactivateNode(NODE1);
        vm.prank(NODE1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, cid, NODE1));
        reg.anchorBatch_lqy32(keccak256("root"), pack(cid, 2, 256));
    }

    // One batch per (cluster, epoch): a second one, by any node and through
    // either entry point, reverts BatchEpochAnchored; the neighbouring
    // epochs (the same storage slot) and another cluster's epoch stay free.
    function testSecondBatchForEpochReverts() public {
        assertTrue(!reg.batchEpochAnchored(cid, EPOCH), "free before");
        vm.prank(NODE1);
        reg.anchorBatch_lqy32(keccak256("root-a"), pack(cid, EPOCH, 3));
        assertTrue(reg.batchEpochAnchored(cid, EPOCH), "taken after");
        bytes memory taken = abi.encodeWithSelector(VeilRegistry.BatchEpochAnchored.selector, cid, EPOCH);
        vm.prank(NODE2);
        vm.expectRevert(taken);
        reg.anchorBatch_lqy32(keccak256("root-b"), pack(cid, EPOCH, 2));
        vm.prank(NODE1);
        vm.expectRevert(taken);
        reg.anchorBatch_lqy32(keccak256("root-a"), pack(cid, EPOCH, 3));
        vm.prank(NODE2);
        vm.expectRevert(taken);
        reg.anchorBatch(cid, EPOCH, keccak256("root-c"), 1);
        assertTrue(!reg.batchEpochAnchored(cid, EPOCH - 1) && !reg.batchEpochAnchored(cid, EPOCH + 1),
            "neighbours free");
        vm.prank(NODE2);
        reg.anchorBatch(cid, EPOCH + 1, keccak256("root-d"), 1);
        vm.prank(NODE2);
        reg.anchorBatch_lqy32(keccak256("root-e"), pack(cid, EPOCH - 1, 1));
        // another cluster's same epoch
        address[] memory ops = new address[](1);
        ops[0] = OP1;
        uint32[] memory opOrgs = new uint32[](1);
        string[] memory orgs = new string[](1);
        orgs[0] = "solo";
        uint64 cid2 = reg.createCluster("other", orgs, ops, opOrgs, 1);
        vm.prank(OP1);
        reg.registerNode(cid2, NODE3, abi.encodePacked(bytes32(uint256(0xcc))));
        assertTrue(!reg.batchEpochAnchored(cid2, EPOCH), "other cluster free");
        vm.prank(NODE3);
        reg.anchorBatch_lqy32(keccak256("root-f"), pack(cid2, EPOCH, 1));
        assertTrue(reg.batchEpochAnchored(cid2, EPOCH), "other cluster taken");
    }

    // Any two epochs: the second anchor of an epoch reverts, a different
    // epoch never does (whatever slot and bit they share).
    function testFuzzOneBatchPerEpoch(uint64 a, uint64 b) public {
        vm.prank(NODE1);
        reg.anchorBatch_lqy32(keccak256("x"), pack(cid, a, 1));
        vm.prank(NODE2);
        if (a == b)
            vm.expectRevert(abi.encodeWithSelector(VeilRegistry.BatchEpochAnchored.selector, cid, a));
        reg.anchorBatch(cid, b, keccak256("y"), 1);
        assertTrue(reg.batchEpochAnchored(cid, a) && reg.batchEpochAnchored(cid, b), "both marked");
    }

    function testAnchorWrongCluster() public {
        vm.prank(NODE1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, 7, NODE1));
        reg.anchorDeployment(7, keccak256("job"), keccak256("assign"));
        vm.prank(NODE1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, 7, NODE1));
        reg.anchorBatch_lqy32(keccak256("root"), pack(7, 1, 256));
        // A cluster id the uint32 in Node cannot hold never matches.
        uint64 big = cid + (uint64(1) << 32);
        vm.prank(NODE1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, big, NODE1));
        reg.anchorBatch_lqy32(keccak256("root"), pack(big, 1, 256));
    }

    // Any bit of `batch` above bit 160 is refused (it is not part of the encoding).
    function testAnchorBatchRejectsHighBits() public {
        for (uint256 bit = 160; bit < 256; bit += 19) {
            vm.prank(NODE1);
            vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidArgument.selector, "batch"));
            reg.anchorBatch_lqy32(keccak256("root"), pack(cid, 1, 256) | (uint256(1) << bit));
        }
    }

    // The name's suffix is mined for a selector with three leading zero bytes
    // (cheapest calldata, first in the dispatcher).
    function testAnchorBatchSelector() public pure {
        assertTrue(VeilRegistry.anchorBatch_lqy32.selector == bytes4(0x000000f6), "selector");
    }

    // The exact log: one topic (prefix | clusterId), data = abi.encode(root, batch).
    function testBatchAnchoredEncoding() public {
        bytes32 root = keccak256("root-enc");
        uint256 batch = pack(cid, EPOCH, 256);
        vm.recordLogs();
        vm.prank(NODE2);
        reg.anchorBatch_lqy32(root, batch);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertTrue(logs.length == 1 && logs[0].emitter == address(reg), "one log");
        assertTrue(logs[0].topics.length == 1, "anonymous, one topic");
        assertTrue(logs[0].topics[0] == BATCH_PREFIX | bytes32(uint256(cid)), "topic0");
        assertTrue(
            BATCH_PREFIX == 0xac8299ac70f7b9dcae1b524b96f3906836b4ceeace57c1d10000000000000000,
            "prefix constant"
        );
        assertTrue(keccak256(logs[0].data) == keccak256(abi.encode(root, batch)), "data");
        (bytes32 r, uint256 b) = abi.decode(logs[0].data, (bytes32, uint256));
        assertTrue(r == root && uint64(b >> 96) == cid, "root, cluster");
        assertTrue(uint64(b >> 32) == EPOCH && uint32(b) == 256, "epoch, count");
    }

    // The plain-ABI anchorBatch emits exactly the log of the packed entry point
    // and has the same access control.
    function testAnchorBatchPlainAbiSameLog(uint64 epoch, uint32 count, bytes32 root) public {
        // the same epoch through each entry point, from the same state (one
        // batch per epoch: the second call would revert)
        uint256 snap = vm.snapshotState();
        vm.recordLogs();
        vm.prank(NODE1);
        reg.anchorBatch(cid, epoch, root, count);
        Vm.Log[] memory plain = vm.getRecordedLogs();
        assertTrue(vm.revertToState(snap), "revert to the snapshot");
        vm.prank(NODE1);
        reg.anchorBatch_lqy32(root, pack(cid, epoch, count));
        Vm.Log[] memory packed = vm.getRecordedLogs();
        assertTrue(plain.length == 1 && packed.length == 1, "one log each");
        assertTrue(plain[0].topics.length == 1 && plain[0].topics[0] == packed[0].topics[0], "topic");
        assertTrue(keccak256(plain[0].data) == keccak256(packed[0].data), "data");
        vm.prank(NODE1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.BatchEpochAnchored.selector, cid, epoch));
        reg.anchorBatch(cid, epoch, root, count);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, cid, STRANGER));
        reg.anchorBatch(cid, epoch, root, count);
        vm.prank(NODE1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, 7, NODE1));
        reg.anchorBatch(7, epoch, root, count);
    }

    // Every (cluster, epoch, count, root) survives the packing into the log.
    function testFuzzBatchAnchoredRoundTrip(uint64 epoch, uint32 count, bytes32 root) public {
        vm.recordLogs();
        vm.prank(NODE1);
        reg.anchorBatch_lqy32(root, pack(cid, epoch, count));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertTrue(logs.length == 1 && logs[0].topics[0] == BATCH_PREFIX | bytes32(uint256(cid)), "topic");
        (bytes32 r, uint256 b) = abi.decode(logs[0].data, (bytes32, uint256));
        assertTrue(r == root, "root");
        assertTrue(b >> 96 == cid && uint64(b >> 32) == epoch && uint32(b) == count, "fields");
        // The anchored root is what verifyInclusion checks against (a one-leaf tree).
        bytes32 leaf = reg.deploymentLeaf(cid, root, bytes32(uint256(epoch)));
        vm.prank(NODE1);
        reg.anchorBatch_lqy32(leaf, pack(cid, epoch ^ 1, 1)); // the next batch: another epoch
        logs = vm.getRecordedLogs();
        (r,) = abi.decode(logs[0].data, (bytes32, uint256));
        assertTrue(reg.verifyInclusion(r, cid, root, bytes32(uint256(epoch)), new bytes32[](0)), "incl");
    }

    // Builds the root the way the contract comment documents and checks a proof per leaf.
    function testMerkleInclusion() public view {
        uint256 n = 5;
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            leaves[i] = reg.deploymentLeaf(cid, bytes32(i), keccak256(abi.encode(i)));
        }
        bytes32 l01 = pair(leaves[0], leaves[1]);
        bytes32 l23 = pair(leaves[2], leaves[3]);
        bytes32 l0123 = pair(l01, l23);
        bytes32 root = pair(l0123, leaves[4]); // leaf 4 promoted twice
        bytes32[] memory proof = new bytes32[](3);
        proof[0] = leaves[3];
        proof[1] = l01;
        proof[2] = leaves[4];
        assertTrue(reg.verifyInclusion(root, cid, bytes32(uint256(2)), keccak256(abi.encode(2)), proof), "leaf 2");
        bytes32[] memory proof4 = new bytes32[](1);
        proof4[0] = l0123;
        assertTrue(reg.verifyInclusion(root, cid, bytes32(uint256(4)), keccak256(abi.encode(4)), proof4), "leaf 4");
        assertTrue(!reg.verifyInclusion(root, cid, bytes32(uint256(4)), keccak256(abi.encode(5)), proof4), "bad leaf");
    }

    function pair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(bytes1(0x01), a, b))
                     : keccak256(abi.encodePacked(bytes1(0x01), b, a));
    }

    function testDisputeUpheld() public {
        bytes32 aid = reg.anchorId(1, cid, bytes32(uint256(1)), keccak256("root"));
        vm.prank(OP3);
        uint256 did = reg.openDispute(cid, aid, keccak256("evidence"));
        vm.prank(OP1);
        reg.resolveDispute(did, true);
        (, uint8 status,,,,,) = reg.getDispute(did);
        assertTrue(status == 1, "still open");
        vm.prank(OP2);
        reg.resolveDispute(did, true);
        (, status,,,,,) = reg.getDispute(did);
        assertTrue(status == 2, "upheld");
        vm.prank(OP3);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.DisputeClosed.selector, did));
        reg.resolveDispute(did, false);
    }

    function testDisputeAccessControl() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, cid, STRANGER));
        reg.openDispute(cid, bytes32(uint256(1)), keccak256("e"));
        vm.prank(OP1);
        uint256 did = reg.openDispute(cid, bytes32(uint256(1)), keccak256("e"));
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, cid, STRANGER));
        reg.resolveDispute(did, false);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.UnknownDispute.selector, 42));
        reg.resolveDispute(42, false);
    }

    // Gas benchmark: one batch of 256 deployments with realistic values: cluster
    // 1, a real epoch number, a root without zero bytes (see bench/chain).
    function testGasAnchorBatch256() public {
        assertTrue(cid == 1, "first cluster");
        vm.prank(NODE2);
        reg.anchorBatch_lqy32(keccak256("root-256"), pack(cid, EPOCH, 256));
    }

    // Gas benchmark: a batch whose epoch's slot already holds an anchored
    // epoch (the usual case: 255 of every 256 consecutive batch epochs).
    function testGasAnchorBatch256NextEpoch() public {
        vm.prank(NODE2);
        reg.anchorBatch_lqy32(keccak256("root-255"), pack(cid, EPOCH - 1, 256));
        vm.prank(NODE2);
        reg.anchorBatch_lqy32(keccak256("root-256"), pack(cid, EPOCH, 256));
    }

    // Gas benchmark: one deployment anchored on its own.
    function testGasAnchorDeployment() public {
        vm.prank(NODE1);
        reg.anchorDeployment(cid, keccak256("job-1"), keccak256("assignment-1"));
    }

    function testFuzzPeerIdRoundTrip(bytes32 key, address node) public {
        vm.assume(node != address(0) && node != NODE1 && node != NODE2);
        vm.assume(key != bytes32(uint256(0xaa)) && key != bytes32(uint256(0xbb)));
        vm.prank(OP3);
        reg.registerNode(cid, node, abi.encodePacked(bytes6(0x002408011220), key));
        assertTrue(reg.nodeByPeerId(abi.encodePacked(key)) == node, "lookup");
        assertTrue(reg.isActiveNode(cid, node), "active");
    }

    function testFuzzOnlyActiveNodesAnchor(address who) public {
        vm.assume(who != NODE1 && who != NODE2);
        vm.prank(who);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotActiveNode.selector, cid, who));
        reg.anchorDeployment(cid, bytes32(0), bytes32(0));
    }

    function testFuzzMerklePair(bytes32 a, bytes32 b) public view {
        bytes32[] memory proof = new bytes32[](1);
        bytes32 leafA = reg.deploymentLeaf(cid, a, b);
        bytes32 leafB = reg.deploymentLeaf(cid, b, a);
        proof[0] = leafB;
        assertTrue(reg.verifyInclusion(pair(leafA, leafB), cid, a, b, proof), "pair");
    }
}
