/*
 * config_keys.c - the configuration keys every Veil program understands, with
 * their environment variables and defaults. `veil config keys` prints this
 * table; docs/ARCHITECTURE.md explains the layering.
 */
#include <veil/base.h>

const struct veil_config_key veil_config_default_keys[] = {
    {"data_dir", VEIL_CONFIG_STRING, "VEIL_DATA_DIR", "/var/lib/veil", 0, 0,
     "node state directory (keys, images, containers, database)"},
    {"log_level", VEIL_CONFIG_STRING, NULL, NULL, 0, 0,
     "log level for veild when neither --log-level nor VEIL_LOG is given"},
    {"threads", VEIL_CONFIG_INT, "VEIL_THREADS", "0", 0, 1024,
     "worker threads for FHE evaluation (0 = one per core)"},
    {"rpc_url", VEIL_CONFIG_STRING, "VEIL_RPC_URL", "http://127.0.0.1:8545", 0, 0,
     "Ethereum JSON-RPC endpoint"},
    {"chain_id", VEIL_CONFIG_INT, "VEIL_CHAIN_ID", NULL, 1, INT64_MAX,
     "expected chain id (refuse to sign for any other)"},
    {"contract_address", VEIL_CONFIG_STRING, "VEIL_CONTRACT_ADDRESS", NULL, 0, 0,
     "address of the VeilRegistry contract"},
    {"cluster_id", VEIL_CONFIG_STRING, "VEIL_CLUSTER_ID", NULL, 0, 0,
     "cluster this node belongs to (id in the registry contract)"},
    {"keystore", VEIL_CONFIG_STRING, "VEIL_KEYSTORE", NULL, 0, 0,
     "Ethereum keystore v3 file used to sign transactions"},
    {"keystore_password_file", VEIL_CONFIG_STRING, "VEIL_KEYSTORE_PASSWORD_FILE", NULL, 0, 0,
     "file holding the keystore password"},
    {"libp2p.listen", VEIL_CONFIG_LIST, "VEIL_LIBP2P_LISTEN", "/ip4/0.0.0.0/tcp/4001", 0, 0,
     "multiaddrs to listen on"},
    {"libp2p.bootstrap", VEIL_CONFIG_LIST, "VEIL_LIBP2P_BOOTSTRAP", NULL, 0, 0,
     "multiaddrs (with /p2p/<peer id>) of bootstrap peers"},
    {"libp2p.key_file", VEIL_CONFIG_STRING, "VEIL_LIBP2P_KEY_FILE", NULL, 0, 0,
     "Ed25519 node identity key (default: <data_dir>/node.key)"},
    {"node.peer_id", VEIL_CONFIG_STRING, "VEIL_NODE_PEERID", NULL, 0, 0,
     "expected peer ID of this node (checked against its key)"},
    {"node.organization", VEIL_CONFIG_STRING, "VEIL_NODE_ORGANIZATION", NULL, 0, 0,
     "organization operating this node"},
    {"zama.public_key_file", VEIL_CONFIG_STRING, "VEIL_ZAMA_PUBLICKEY_FILE", NULL, 0, 0,
     "cluster FHE public key (encrypts telemetry)"},
    {"zama.server_key_file", VEIL_CONFIG_STRING, "VEIL_ZAMA_SERVERKEY_FILE", NULL, 0, 0,
     "cluster FHE server key (evaluates the scheduling circuit)"},
    {"zama.client_key_file", VEIL_CONFIG_STRING, "VEIL_ZAMA_CLIENTKEY_FILE", NULL, 0, 0,
     "FHE client key (only on the designated decryptor)"},
    {"telemetry.interval", VEIL_CONFIG_DURATION, "VEIL_TELEMETRY_INTERVAL", "10s", 0, 0,
     "how often encrypted telemetry is published"},
    {"runtime.engine", VEIL_CONFIG_STRING, "VEIL_RUNTIME", "runc", 0, 0,
     "OCI runtime: runc or crun"},
    {"docker.socket", VEIL_CONFIG_STRING, "VEIL_DOCKER_SOCKET", NULL, 0, 0,
     "Docker Engine API socket; when set, containers run through it"},
    {"registry.insecure", VEIL_CONFIG_LIST, "VEIL_INSECURE_REGISTRIES", NULL, 0, 0,
     "registries (host:port) reached over plain HTTP"},
    {"registry.auth_file", VEIL_CONFIG_STRING, "VEIL_REGISTRY_AUTH_FILE", NULL, 0, 0,
     "registry credentials file (Docker config.json format)"},
    {"api.listen", VEIL_CONFIG_STRING, "VEIL_API_LISTEN", "127.0.0.1:7070", 0, 0,
     "local HTTP API address (loopback only)"},
    {"api.token_file", VEIL_CONFIG_STRING, "VEIL_API_TOKEN_FILE", NULL, 0, 0,
     "bearer token file for the local API (created 0600)"},
};

const size_t veil_config_default_keys_len = VEIL_ARRAY_LEN(veil_config_default_keys);
