// SPDX-License-Identifier: Apache-2.0
// contracts/src/VeilRegistry.sol - the Veil cluster registry: clusters with
// organizations and operators, nodes (libp2p peer ID + Ethereum address),
// M-of-N governance proposals that change a cluster's policy or add an
// organization, deployment anchors (single and Merkle batches) and disputes.
// The C client in src/chain/ speaks to exactly this ABI.
pragma solidity ^0.8.24;

/// @title VeilRegistry
/// @notice One deployment holds many clusters. Every state change is access
/// controlled, emits an event and runs in time independent of the number of
/// members (no loops over operators or nodes in state-changing functions).
///
/// Merkle batches (anchorBatch / verifyInclusion), computed identically by
/// the C client (src/chain/merkle.c):
///   leaf   = keccak256(0x00 || clusterId as 8 bytes big-endian || jobId || assignmentHash)
///   parent = keccak256(0x01 || min(a, b) || max(a, b))   (sorted pair, bytes32 order)
///   a level with an odd count promotes its last node unchanged to the next level.
/// The 0x00/0x01 prefixes keep leaves and inner nodes apart (no second preimages).
///
/// Anchors are events (no per-anchor storage) so that anchoring stays cheap;
/// their integrity rests on the chain's log history, and the anchor id a
/// dispute names is anchorId(...) of the anchored values. The one thing kept
/// in storage is which batch epochs of a cluster were anchored, one bit each
/// (anchoredEpochBits): a second batch for an epoch reverts with
/// BatchEpochAnchored, so two senders that race (a stand-in and the
/// sender it stood in for) cannot both anchor one epoch. Batch epochs are
/// consecutive numbers, so 256 of them share a slot: the first batch of a
/// slot pays a new slot (22,100 gas), each later one 5,000 (a cold SLOAD and
/// a non-zero rewrite), about 5,070 per batch on average.
///
/// anchorBatch is the one call every cluster makes every batch epoch, so its
/// encoding is chosen for gas (target: <= 100 gas per deployment at 256 per
/// batch, i.e. <= 25,600 for the whole transaction). Measured on anvil
/// (prague) with a random root, a real epoch number and count 256:
///   - 27,136 with the plain ABI call anchorBatch(uint64,uint64,bytes32,uint32)
///     and a LOG3 BatchAnchored(clusterId indexed, epoch indexed, root, count);
///   - 25,490 with the encoding below, before the per-epoch bit. Of that,
///     21,000 is the transaction base, 740 calldata, 2,100 the cold SLOAD of
///     the sender's Node (the access check, which cannot be avoided) and
///     1,262 the LOG1. The epoch bit adds 5,000 (22,100 for the first
///     epoch of a slot of 256); see docs/BENCHMARKS.md.
/// What changed, and what each step saves:
///   1. Calldata is two words, `merkleRoot` and `batch` = clusterId << 96 |
///      epoch << 32 | count (a uint160: 64 + 64 + 32 bits), instead of four
///      padded words: 64 fewer bytes, most of them zero (~250 gas).
///   2. The event is anonymous with ONE topic, BATCH_TOPIC_PREFIX | clusterId
///      (the first 24 bytes of keccak256("BatchAnchored(uint64,bytes32,uint256)")
///      followed by the cluster id as 8 big-endian bytes), and its data is the
///      two calldata words verbatim (ABI (bytes32 merkleRoot, uint256 batch)):
///      LOG1 with 64 bytes instead of LOG3 with 64 bytes (750 gas). Logs stay
///      filterable by cluster with an exact topic0 (eth_getLogs topics
///      [[prefix|clusterId]]); all clusters' batches are the logs whose topic0
///      starts with the prefix. The epoch is no longer a topic: a reader takes
///      the cluster's batch logs and picks the epoch from the data, which
///      `veil chain anchor verify` does. Other events' topic0 are keccak
///      hashes, so matching the 24-byte prefix by chance is out of reach.
///   3. The function name carries a mined suffix so that its selector is
///      0x000000f6, the lowest of the contract: the dispatcher finds it at its
///      first comparison, and its three zero bytes are cheap calldata (the
///      trick of Seaport's fulfillBasicOrder_efficient_6GL6yc). The plain name
///      anchorBatch(bytes32,uint256) (selector 0x9a1d0d41) costs 308 gas more.
///   4. Compiled with via-IR (foundry.toml, tools/build-artifact.js): ~300 gas
///      less here than the legacy pipeline, and registerNode is cheaper too.
/// The access check is unchanged: the sender must be an active node of the
/// cluster, and `batch` must have no bits above 160 (they would make the
/// cluster id differ from every stored one, so the call reverts).
/// What this gives up, for auditors: a generic ABI decoder shows the log as
/// (clusterTopic, merkleRoot, batch) and the reader unpacks `batch`; nodes
/// cannot filter by epoch (the reader scans the cluster's batches); callers
/// must pack `batch` themselves (src/chain/registry.c, or the shell line in
/// contracts/README.md). anchorDeployment keeps the plain encoding: it is
/// within its target (<= 30,000) and is not the per-epoch call.
contract VeilRegistry {
    // ------------------------------------------------------------------ limits
    uint256 internal constant MAX_FOUNDERS = 64;
    uint256 internal constant MAX_ORG_OPERATORS = 16;
    uint256 internal constant MAX_POLICY_ITEMS = 256;
    /// Key holders of a threshold cluster: Shamir points are the non-zero
    /// elements of GF(16) (src/threshold), so at most 15.
    uint256 internal constant MAX_KEY_HOLDERS = 15;
    uint256 internal constant MAX_NAME_BYTES = 64;
    /// Schedulers per shard of a sharded round (nodes choose 1..3 by
    /// rendezvous; docs/SCHEDULING.md "Sharded rounds in veild").
    uint8 internal constant MAX_SHARD_REDUNDANCY = 3;
    uint8 internal constant SCHED_FLAGS_ALL = 3; // SCHED_NO_BATCH | SCHED_NO_NODE_KEYS
    uint64 internal constant MIN_PROPOSAL_TTL = 60;
    uint64 internal constant MAX_PROPOSAL_TTL = 30 days;

    /// keccak256("BatchAnchored(uint64,bytes32,uint256)") with its low 8 bytes
    /// cleared; BatchAnchored's topic0 is this | clusterId.
    bytes32 internal constant BATCH_TOPIC_PREFIX =
        0xac8299ac70f7b9dcae1b524b96f3906836b4ceeace57c1d10000000000000000;

    uint8 internal constant PROPOSAL_POLICY = 1;
    uint8 internal constant PROPOSAL_ADD_ORG = 2;

    uint8 internal constant DISPUTE_OPEN = 1;
    uint8 internal constant DISPUTE_UPHELD = 2;
    uint8 internal constant DISPUTE_REJECTED = 3;

    // ------------------------------------------------------------------ types
    /// Who may decrypt is governed here, changed only by an M-of-N policy
    /// proposal. With one entry, `decryptors` is the designated decryptor and
    /// fheKeyHash = keccak256(FHE public key). With several, it is the key
    /// holders of a threshold dealing in share order (holder i is
    /// decryptors[i - 1]) and fheKeyHash = keccak256(FHE public key ||
    /// threshold public material): the material names each holder's key and
    /// the threshold t, so the hash the operators vote on fixes the holder
    /// set and t (a new t needs a new dealing, hence a new hash). Nodes
    /// refuse to run with a dealing whose hash or holder count differ.
    /// The outcome budget (docs/THREAT_MODEL.md, H2): each member may obtain
    /// at most outcomesPerPeriod placement outcomes per period of
    /// outcomePeriodSeconds; every node enforces it on its own. 0 = no budget.
    /// Sharded rounds (issue 20): a round over more alive members than
    /// shardSize is split into shards of consecutive candidates, each
    /// evaluated by shardRedundancy schedulers; shardSize 0 = never sharded,
    /// shardRedundancy 0 = the default (3). Every node reads them from here,
    /// so every node plans the same shards.
    /// schedFlags: scheduling switches every node must apply alike, each bit
    /// turning one off (0 = both on): bit 0 (SCHED_NO_BATCH) one round per
    /// replica instead of a job's replicas in one round, bit 1
    /// (SCHED_NO_NODE_KEYS) the key computed in the circuit instead of by
    /// the candidates. Other bits are refused.
    struct Policy {
        bytes32[] allowedImageDigests;
        string schedulerPolicy;
        uint32[] schedulerWeights;
        bytes32 fheKeyHash;
        address[] decryptors;
        bytes32[] guardianKeys;
        uint32 outcomesPerPeriod;
        uint32 outcomePeriodSeconds;
        uint32 shardSize;
        uint8 shardRedundancy;
        uint8 schedFlags;
    }

    struct Cluster {
        uint16 threshold;
        uint16 operatorCount;
        uint32 orgCount;
        uint64 policyProposal; // proposal id whose policy is in force (0 = none yet)
        uint64 policyVersion;
        bool exists;
        string name;
    }

    /// One slot: what anchoring reads to authorize the sender. The peer key
    /// lives in the active set (and in retiredPeerKey once deactivated), so
    /// registering a node writes three new slots (see bench/chain).
    struct Node {
        address operator;
        uint32 clusterId;
        bool active;
        uint32 activeIndex;
        bool registered;
    }

    struct Proposal {
        uint64 clusterId;
        uint64 expiry;
        uint16 yesVotes;
        uint8 kind;
        bool executed;
        address proposer;
    }

    struct OrgProposal {
        string name;
        address[] operators;
    }

    struct Dispute {
        uint64 clusterId;
        uint8 status;
        uint16 upholdVotes;
        uint16 rejectVotes;
        address opener;
        bytes32 anchorId;
        bytes32 evidenceHash;
    }

    // ------------------------------------------------------------------ state
    uint64 public clusterCount;
    uint64 public proposalCount;
    uint64 public disputeCount;

    mapping(uint64 => Cluster) private clusters;
    /// cluster => operator => organization index + 1 (0 = not an operator)
    mapping(uint64 => mapping(address => uint32)) private operatorOrgPlusOne;
    mapping(uint64 => mapping(uint32 => string)) private orgNames;
    mapping(address => Node) private nodes;
    /// peer key (32-byte Ed25519 key, or keccak256 of a longer multihash) => node
    mapping(bytes32 => address) private nodeByPeerHash;
    /// cluster => peer keys of its active nodes (swap-and-pop on deactivation)
    mapping(uint64 => bytes32[]) private activePeers;
    mapping(address => bytes32) private retiredPeerKey;
    mapping(uint256 => Proposal) private proposals;
    mapping(uint256 => Policy) private proposalPolicies;
    mapping(uint256 => OrgProposal) private orgProposals;
    mapping(uint256 => mapping(address => bool)) private proposalVoted;
    mapping(uint256 => Dispute) private disputes;
    mapping(uint256 => mapping(address => bool)) private disputeVoted;
    /// Anchored batch epochs: key clusterId << 56 | epoch >> 8 (the packed
    /// `batch` word shifted right by 40), bit epoch & 255.
    mapping(uint256 => uint256) private anchoredEpochBits;

    // ------------------------------------------------------------------ errors
    error UnknownCluster(uint64 clusterId);
    error InvalidThreshold(uint256 threshold, uint256 operators);
    error InvalidArgument(string what);
    error TooMany(string what, uint256 count, uint256 max);
    error NotOperator(uint64 clusterId, address account);
    error AlreadyOperator(uint64 clusterId, address account);
    error NotActiveNode(uint64 clusterId, address account);
    error NodeAlreadyRegistered(address node);
    error PeerIdTaken(bytes32 peerKey);
    error UnknownNode(address node);
    error NodeInactive(address node);
    error NotNodeOperator(address node, address account);
    error UnknownProposal(uint256 proposalId);
    error ProposalExpired(uint256 proposalId, uint64 expiry);
    error ProposalAlreadyExecuted(uint256 proposalId);
    error AlreadyVoted(uint256 id, address voter);
    error UnknownDispute(uint256 disputeId);
    error DisputeClosed(uint256 disputeId);
    /// A batch of this epoch is anchored already (the first one counts; its
    /// root is in its BatchAnchored log).
    error BatchEpochAnchored(uint64 clusterId, uint64 epoch);

    // ------------------------------------------------------------------ events
    event ClusterCreated(uint64 indexed clusterId, string name, uint16 threshold, uint16 operators);
    event OrganizationAdded(uint64 indexed clusterId, uint32 indexed orgIndex, string name);
    event OperatorAdded(uint64 indexed clusterId, address indexed operator, uint32 orgIndex);
    event NodeRegistered(
        uint64 indexed clusterId, address indexed node, address indexed operator, bytes peerId
    );
    event NodeDeactivated(uint64 indexed clusterId, address indexed node, address by);
    event ProposalCreated(
        uint64 indexed clusterId, uint256 indexed proposalId, uint8 kind, address proposer,
        uint64 expiry
    );
    event ProposalVoted(uint256 indexed proposalId, address indexed voter, uint16 yesVotes);
    event ProposalExecuted(uint64 indexed clusterId, uint256 indexed proposalId, uint8 kind);
    event PolicyChanged(uint64 indexed clusterId, uint64 version, uint256 proposalId);
    event DeploymentAnchored(uint64 indexed clusterId, bytes32 indexed jobId, bytes32 assignmentHash);
    /// Anonymous: its only topic is BATCH_TOPIC_PREFIX | clusterId, its data is
    /// (merkleRoot, batch) with batch = clusterId << 96 | epoch << 32 | count.
    event BatchAnchored(bytes32 indexed clusterTopic, bytes32 merkleRoot, uint256 batch) anonymous;
    event DisputeOpened(
        uint64 indexed clusterId, uint256 indexed disputeId, bytes32 indexed anchorId,
        bytes32 evidenceHash, address opener
    );
    event DisputeVoted(uint256 indexed disputeId, address indexed voter, bool uphold);
    event DisputeResolved(uint64 indexed clusterId, uint256 indexed disputeId, bool upheld);

    // ------------------------------------------------------------------ modifiers
    modifier onlyOperator(uint64 clusterId) {
        if (operatorOrgPlusOne[clusterId][msg.sender] == 0) {
            if (!clusters[clusterId].exists) revert UnknownCluster(clusterId);
            revert NotOperator(clusterId, msg.sender);
        }
        _;
    }

    // ------------------------------------------------------------------ clusters
    /// Creates a cluster. founderOrgs[i] is the index into orgNames of founders[i].
    function createCluster(
        string calldata name,
        string[] calldata orgNames_,
        address[] calldata founders,
        uint32[] calldata founderOrgs,
        uint16 threshold
    ) external returns (uint64 clusterId) {
        uint256 n = founders.length;
        if (n == 0 || n > MAX_FOUNDERS) revert TooMany("founders", n, MAX_FOUNDERS);
        if (founderOrgs.length != n) revert InvalidArgument("founderOrgs length");
        if (orgNames_.length == 0 || orgNames_.length > MAX_FOUNDERS) {
            revert TooMany("organizations", orgNames_.length, MAX_FOUNDERS);
        }
        if (threshold == 0 || threshold > n) revert InvalidThreshold(threshold, n);
        if (bytes(name).length == 0 || bytes(name).length > MAX_NAME_BYTES) {
            revert InvalidArgument("name");
        }
        clusterId = ++clusterCount;
        Cluster storage c = clusters[clusterId];
        c.exists = true;
        c.threshold = threshold;
        c.name = name;
        // Bounded by MAX_FOUNDERS: these loops run over the caller's input.
        for (uint32 i = 0; i < orgNames_.length; i++) {
            _addOrg(clusterId, c, orgNames_[i]);
        }
        for (uint256 i = 0; i < n; i++) {
            if (founderOrgs[i] >= orgNames_.length) revert InvalidArgument("founderOrgs index");
            _addOperator(clusterId, c, founders[i], founderOrgs[i]);
        }
        emit ClusterCreated(clusterId, name, threshold, c.operatorCount);
    }

    function _addOrg(uint64 clusterId, Cluster storage c, string calldata name) private {
        if (bytes(name).length == 0 || bytes(name).length > MAX_NAME_BYTES) {
            revert InvalidArgument("organization name");
        }
        uint32 index = c.orgCount++;
        orgNames[clusterId][index] = name;
        emit OrganizationAdded(clusterId, index, name);
    }

    function _addOperator(uint64 clusterId, Cluster storage c, address op, uint32 org) private {
        if (op == address(0)) revert InvalidArgument("operator address");
        if (operatorOrgPlusOne[clusterId][op] != 0) revert AlreadyOperator(clusterId, op);
        operatorOrgPlusOne[clusterId][op] = org + 1;
        c.operatorCount++;
        emit OperatorAdded(clusterId, op, org);
    }

    function getCluster(uint64 clusterId)
        external
        view
        returns (string memory name, uint16 threshold, uint16 operatorCount, uint32 orgCount,
                 uint64 policyVersion, uint256 activeNodes_)
    {
        Cluster storage c = clusters[clusterId];
        if (!c.exists) revert UnknownCluster(clusterId);
        return (c.name, c.threshold, c.operatorCount, c.orgCount, c.policyVersion,
                activePeers[clusterId].length);
    }

    function organizationName(uint64 clusterId, uint32 orgIndex)
        external
        view
        returns (string memory)
    {
        if (orgIndex >= clusters[clusterId].orgCount) revert InvalidArgument("orgIndex");
        return orgNames[clusterId][orgIndex];
    }

    /// Returns (isOperator, orgIndex).
    function operatorOf(uint64 clusterId, address account) external view returns (bool, uint32) {
        uint32 v = operatorOrgPlusOne[clusterId][account];
        return (v != 0, v == 0 ? 0 : v - 1);
    }

    // ------------------------------------------------------------------ nodes
    /// Registers `node` (its Ethereum address) with its libp2p peer ID: the
    /// 32-byte Ed25519 public key, or the full multihash bytes (at most 64).
    function registerNode(uint64 clusterId, address node, bytes calldata peerId)
        external
        onlyOperator(clusterId)
    {
        if (node == address(0)) revert InvalidArgument("node address");
        if (peerId.length < 2 || peerId.length > 64) revert InvalidArgument("peerId length");
        Node storage rec = nodes[node];
        if (rec.registered) revert NodeAlreadyRegistered(node);
        bytes32 key = _peerKey(peerId);
        if (nodeByPeerHash[key] != address(0)) revert PeerIdTaken(key);
        bytes32[] storage set = activePeers[clusterId];
        nodes[node] = Node({
            operator: msg.sender,
            clusterId: uint32(clusterId),
            active: true,
            activeIndex: uint32(set.length),
            registered: true
        });
        nodeByPeerHash[key] = node;
        set.push(key);
        emit NodeRegistered(clusterId, node, msg.sender, peerId);
    }

    /// The stored form of a peer ID: a bare 32-byte key as is; the identity
    /// multihash of an Ed25519 key (00 24 08 01 12 20 || key, 38 bytes)
    /// reduced to the same key; anything else hashed.
    function _peerKey(bytes calldata peerId) private pure returns (bytes32 key) {
        if (peerId.length == 32) return bytes32(peerId);
        if (peerId.length == 38 && bytes6(peerId[0:6]) == bytes6(0x002408011220)) {
            return bytes32(peerId[6:38]);
        }
        return keccak256(peerId);
    }

    /// Deactivates a node; allowed for the operator who registered it and for
    /// the node itself. O(1): swap-and-pop in the active set.
    function deactivateNode(address node) external {
        Node storage rec = nodes[node];
        if (!rec.registered) revert UnknownNode(node);
        if (msg.sender != rec.operator && msg.sender != node) {
            revert NotNodeOperator(node, msg.sender);
        }
        if (!rec.active) revert NodeInactive(node);
        uint64 clusterId = rec.clusterId;
        bytes32[] storage set = activePeers[clusterId];
        uint32 index = rec.activeIndex;
        bytes32 key = set[index];
        bytes32 last = set[set.length - 1];
        set[index] = last;
        nodes[nodeByPeerHash[last]].activeIndex = index;
        set.pop();
        retiredPeerKey[node] = key;
        rec.active = false;
        emit NodeDeactivated(clusterId, node, msg.sender);
    }

    function getNode(address node)
        external
        view
        returns (uint64 clusterId, address operator, bool active, bytes32 peerKey)
    {
        Node storage rec = nodes[node];
        if (!rec.registered) revert UnknownNode(node);
        bytes32 key = rec.active ? activePeers[rec.clusterId][rec.activeIndex] : retiredPeerKey[node];
        return (rec.clusterId, rec.operator, rec.active, key);
    }

    /// Looks a node up by its peer ID (either form); address(0) if unknown.
    function nodeByPeerId(bytes calldata peerId) external view returns (address) {
        if (peerId.length < 2 || peerId.length > 64) return address(0);
        return nodeByPeerHash[_peerKey(peerId)];
    }

    function activeNodeCount(uint64 clusterId) external view returns (uint256) {
        return activePeers[clusterId].length;
    }

    function activeNodeAt(uint64 clusterId, uint256 index) external view returns (address) {
        return nodeByPeerHash[activePeers[clusterId][index]];
    }

    /// The whole active set (a view: callers page with activeNodeAt if large).
    function getActiveNodes(uint64 clusterId) external view returns (address[] memory out) {
        bytes32[] storage set = activePeers[clusterId];
        out = new address[](set.length);
        for (uint256 i = 0; i < set.length; i++) {
            out[i] = nodeByPeerHash[set[i]];
        }
    }

    function isActiveNode(uint64 clusterId, address node) public view returns (bool) {
        Node storage rec = nodes[node];
        return rec.active && rec.clusterId == clusterId;
    }

    // ------------------------------------------------------------------ governance
    function proposePolicy(uint64 clusterId, Policy calldata p, uint64 ttl)
        external
        onlyOperator(clusterId)
        returns (uint256 proposalId)
    {
        if (
            p.allowedImageDigests.length > MAX_POLICY_ITEMS
                || p.schedulerWeights.length > MAX_POLICY_ITEMS
                || p.decryptors.length > MAX_POLICY_ITEMS || p.guardianKeys.length > MAX_POLICY_ITEMS
        ) revert TooMany("policy items", 0, MAX_POLICY_ITEMS);
        if (p.decryptors.length > MAX_KEY_HOLDERS) {
            revert TooMany("key holders", p.decryptors.length, MAX_KEY_HOLDERS);
        }
        if (bytes(p.schedulerPolicy).length > MAX_NAME_BYTES) {
            revert InvalidArgument("schedulerPolicy");
        }
        if (p.outcomesPerPeriod != 0 && p.outcomePeriodSeconds == 0) {
            revert InvalidArgument("outcomePeriodSeconds");
        }
        if (p.shardRedundancy > MAX_SHARD_REDUNDANCY) revert InvalidArgument("shardRedundancy");
        if (p.schedFlags > SCHED_FLAGS_ALL) revert InvalidArgument("schedFlags");
        proposalId = _newProposal(clusterId, PROPOSAL_POLICY, ttl);
        Policy storage s = proposalPolicies[proposalId];
        s.allowedImageDigests = p.allowedImageDigests;
        s.schedulerPolicy = p.schedulerPolicy;
        s.schedulerWeights = p.schedulerWeights;
        s.fheKeyHash = p.fheKeyHash;
        s.decryptors = p.decryptors;
        s.guardianKeys = p.guardianKeys;
        s.outcomesPerPeriod = p.outcomesPerPeriod;
        s.outcomePeriodSeconds = p.outcomePeriodSeconds;
        s.shardSize = p.shardSize;
        s.shardRedundancy = p.shardRedundancy;
        s.schedFlags = p.schedFlags;
        _vote(proposalId);
    }

    function proposeOrganization(
        uint64 clusterId,
        string calldata name,
        address[] calldata operators,
        uint64 ttl
    ) external onlyOperator(clusterId) returns (uint256 proposalId) {
        if (operators.length == 0 || operators.length > MAX_ORG_OPERATORS) {
            revert TooMany("operators", operators.length, MAX_ORG_OPERATORS);
        }
        if (bytes(name).length == 0 || bytes(name).length > MAX_NAME_BYTES) {
            revert InvalidArgument("organization name");
        }
        proposalId = _newProposal(clusterId, PROPOSAL_ADD_ORG, ttl);
        OrgProposal storage o = orgProposals[proposalId];
        o.name = name;
        o.operators = operators;
        _vote(proposalId);
    }

    function _newProposal(uint64 clusterId, uint8 kind, uint64 ttl) private returns (uint256 id) {
        if (ttl < MIN_PROPOSAL_TTL || ttl > MAX_PROPOSAL_TTL) revert InvalidArgument("ttl");
        id = ++proposalCount;
        uint64 expiry = uint64(block.timestamp) + ttl;
        proposals[id] = Proposal({
            clusterId: clusterId,
            expiry: expiry,
            yesVotes: 0,
            kind: kind,
            executed: false,
            proposer: msg.sender
        });
        emit ProposalCreated(clusterId, id, kind, msg.sender, expiry);
    }

    /// A yes vote by an operator of the proposal's cluster; the vote that
    /// reaches the threshold executes the proposal.
    function vote(uint256 proposalId) external {
        Proposal storage p = proposals[proposalId];
        if (p.clusterId == 0) revert UnknownProposal(proposalId);
        if (operatorOrgPlusOne[p.clusterId][msg.sender] == 0) {
            revert NotOperator(p.clusterId, msg.sender);
        }
        _vote(proposalId);
    }

    function _vote(uint256 proposalId) private {
        Proposal storage p = proposals[proposalId];
        if (p.executed) revert ProposalAlreadyExecuted(proposalId);
        if (block.timestamp >= p.expiry) revert ProposalExpired(proposalId, p.expiry);
        if (proposalVoted[proposalId][msg.sender]) revert AlreadyVoted(proposalId, msg.sender);
        proposalVoted[proposalId][msg.sender] = true;
        uint16 yes = ++p.yesVotes;
        emit ProposalVoted(proposalId, msg.sender, yes);
        Cluster storage c = clusters[p.clusterId];
        if (yes >= c.threshold) _execute(proposalId, p, c);
    }

    function _execute(uint256 proposalId, Proposal storage p, Cluster storage c) private {
        p.executed = true;
        uint64 clusterId = p.clusterId;
        if (p.kind == PROPOSAL_POLICY) {
            // O(1): the proposal's stored policy becomes the cluster's policy.
            c.policyProposal = uint64(proposalId);
            uint64 version = ++c.policyVersion;
            emit PolicyChanged(clusterId, version, proposalId);
        } else {
            // Bounded by MAX_ORG_OPERATORS (the proposal's own list).
            OrgProposal storage o = orgProposals[proposalId];
            uint32 index = c.orgCount++;
            orgNames[clusterId][index] = o.name;
            emit OrganizationAdded(clusterId, index, o.name);
            for (uint256 i = 0; i < o.operators.length; i++) {
                address op = o.operators[i];
                if (op == address(0)) revert InvalidArgument("operator address");
                if (operatorOrgPlusOne[clusterId][op] != 0) revert AlreadyOperator(clusterId, op);
                operatorOrgPlusOne[clusterId][op] = index + 1;
                c.operatorCount++;
                emit OperatorAdded(clusterId, op, index);
            }
        }
        emit ProposalExecuted(clusterId, proposalId, p.kind);
    }

    function getProposal(uint256 proposalId)
        external
        view
        returns (uint64 clusterId, uint8 kind, uint16 yesVotes, uint64 expiry, bool executed,
                 address proposer)
    {
        Proposal storage p = proposals[proposalId];
        if (p.clusterId == 0) revert UnknownProposal(proposalId);
        return (p.clusterId, p.kind, p.yesVotes, p.expiry, p.executed, p.proposer);
    }

    function hasVoted(uint256 proposalId, address voter) external view returns (bool) {
        return proposalVoted[proposalId][voter];
    }

    /// The policy in force and its version (version 0 = no policy passed yet).
    function getClusterPolicy(uint64 clusterId)
        external
        view
        returns (Policy memory policy, uint64 version)
    {
        Cluster storage c = clusters[clusterId];
        if (!c.exists) revert UnknownCluster(clusterId);
        return (proposalPolicies[c.policyProposal], c.policyVersion);
    }

    // ------------------------------------------------------------------ anchoring
    /// One deployment (an event; see the contract comment).
    function anchorDeployment(uint64 clusterId, bytes32 jobId, bytes32 assignmentHash) external {
        Node storage rec = nodes[msg.sender];
        if (!rec.active || rec.clusterId != clusterId) revert NotActiveNode(clusterId, msg.sender);
        emit DeploymentAnchored(clusterId, jobId, assignmentHash);
    }

    /// A Merkle root over `count` deployment leaves of one epoch of a cluster,
    /// with batch = clusterId << 96 | epoch << 32 | count (see the contract
    /// comment for this encoding and the name's suffix).
    function anchorBatch_lqy32(bytes32 merkleRoot, uint256 batch) external {
        uint256 clusterId = batch >> 96;
        Node storage rec = nodes[msg.sender];
        // rec.clusterId is a uint32, so this also rejects any bit of `batch` above 160.
        if (!rec.active || rec.clusterId != clusterId) {
            if (clusterId > type(uint64).max) revert InvalidArgument("batch");
            revert NotActiveNode(uint64(clusterId), msg.sender);
        }
        markEpoch(batch);
        emit BatchAnchored(BATCH_TOPIC_PREFIX | bytes32(clusterId), merkleRoot, batch);
    }

    /// The same anchor in the plain ABI of the issue's interface, for people and
    /// generic tools (cast send, block explorers): it packs `batch` itself and
    /// emits the identical BatchAnchored log. It costs more gas than the packed
    /// entry point above (four calldata words, a later dispatcher slot), so
    /// nodes use anchorBatch_lqy32.
    function anchorBatch(uint64 clusterId, uint64 epoch, bytes32 merkleRoot, uint32 count)
        external
    {
        Node storage rec = nodes[msg.sender];
        if (!rec.active || rec.clusterId != clusterId) revert NotActiveNode(clusterId, msg.sender);
        uint256 batch = (uint256(clusterId) << 96) | (uint256(epoch) << 32) | uint256(count);
        markEpoch(batch);
        emit BatchAnchored(BATCH_TOPIC_PREFIX | bytes32(uint256(clusterId)), merkleRoot, batch);
    }

    /// Sets the bit of the packed word's (cluster, epoch); reverts when a
    /// batch of that epoch was anchored before. `batch` has no bits above
    /// 160 here (the access check), so the key is clusterId << 56 | epoch >> 8.
    function markEpoch(uint256 batch) private {
        uint256 key = batch >> 40;
        uint256 bit = uint256(1) << ((batch >> 32) & 0xff);
        uint256 bits = anchoredEpochBits[key];
        if (bits & bit != 0) revert BatchEpochAnchored(uint64(batch >> 96), uint64(batch >> 32));
        anchoredEpochBits[key] = bits | bit;
    }

    /// True when a batch of this epoch of the cluster is anchored.
    function batchEpochAnchored(uint64 clusterId, uint64 epoch) external view returns (bool) {
        uint256 key = (uint256(clusterId) << 56) | (uint256(epoch) >> 8);
        return anchoredEpochBits[key] & (uint256(1) << (epoch & 0xff)) != 0;
    }

    function deploymentLeaf(uint64 clusterId, bytes32 jobId, bytes32 assignmentHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(bytes1(0x00), clusterId, jobId, assignmentHash));
    }

    /// True when (clusterId, jobId, assignmentHash) is a leaf of the tree whose
    /// root is `merkleRoot` (the root of an anchored batch), given the sibling
    /// hashes from the leaf up.
    function verifyInclusion(
        bytes32 merkleRoot,
        uint64 clusterId,
        bytes32 jobId,
        bytes32 assignmentHash,
        bytes32[] calldata proof
    ) external pure returns (bool) {
        bytes32 h = deploymentLeaf(clusterId, jobId, assignmentHash);
        for (uint256 i = 0; i < proof.length; i++) {
            bytes32 s = proof[i];
            h = h < s
                ? keccak256(abi.encodePacked(bytes1(0x01), h, s))
                : keccak256(abi.encodePacked(bytes1(0x01), s, h));
        }
        return h == merkleRoot;
    }

    /// The id a dispute names: a single anchor (kind 0: a = jobId, b = assignmentHash)
    /// or a batch (kind 1: a = epoch, b = merkleRoot).
    function anchorId(uint8 kind, uint64 clusterId, bytes32 a, bytes32 b)
        external
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(kind, clusterId, a, b));
    }

    // ------------------------------------------------------------------ disputes
    function openDispute(uint64 clusterId, bytes32 anchorId_, bytes32 evidenceHash)
        external
        onlyOperator(clusterId)
        returns (uint256 disputeId)
    {
        if (evidenceHash == bytes32(0)) revert InvalidArgument("evidenceHash");
        disputeId = ++disputeCount;
        disputes[disputeId] = Dispute({
            clusterId: clusterId,
            status: DISPUTE_OPEN,
            upholdVotes: 0,
            rejectVotes: 0,
            opener: msg.sender,
            anchorId: anchorId_,
            evidenceHash: evidenceHash
        });
        emit DisputeOpened(clusterId, disputeId, anchorId_, evidenceHash, msg.sender);
    }

    /// Governance resolves a dispute: operators vote uphold or reject; the first
    /// side to reach the cluster's threshold decides.
    function resolveDispute(uint256 disputeId, bool uphold) external {
        Dispute storage d = disputes[disputeId];
        if (d.clusterId == 0) revert UnknownDispute(disputeId);
        if (operatorOrgPlusOne[d.clusterId][msg.sender] == 0) {
            revert NotOperator(d.clusterId, msg.sender);
        }
        if (d.status != DISPUTE_OPEN) revert DisputeClosed(disputeId);
        if (disputeVoted[disputeId][msg.sender]) revert AlreadyVoted(disputeId, msg.sender);
        disputeVoted[disputeId][msg.sender] = true;
        uint16 votes = uphold ? ++d.upholdVotes : ++d.rejectVotes;
        emit DisputeVoted(disputeId, msg.sender, uphold);
        if (votes >= clusters[d.clusterId].threshold) {
            d.status = uphold ? DISPUTE_UPHELD : DISPUTE_REJECTED;
            emit DisputeResolved(d.clusterId, disputeId, uphold);
        }
    }

    function getDispute(uint256 disputeId)
        external
        view
        returns (uint64 clusterId, uint8 status, uint16 upholdVotes, uint16 rejectVotes,
                 address opener, bytes32 anchorId_, bytes32 evidenceHash)
    {
        Dispute storage d = disputes[disputeId];
        if (d.clusterId == 0) revert UnknownDispute(disputeId);
        return (d.clusterId, d.status, d.upholdVotes, d.rejectVotes, d.opener, d.anchorId,
                d.evidenceHash);
    }
}
