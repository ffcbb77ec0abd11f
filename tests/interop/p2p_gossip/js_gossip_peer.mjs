// SPDX-License-Identifier: Apache-2.0
// js_gossip_peer.mjs (gossipsub/Kademlia interop) - a stock js-libp2p 3.x
// peer with @libp2p/gossipsub 17 and @libp2p/kad-dht 16 in server mode,
// driven by command lines on stdin like gs_peer.c:
//
//   node --import ./polyfill.mjs js_gossip_peer.mjs [TOPIC...]
//   stdin:  dial MA | publish TOPIC TEXT | mesh TOPIC | peers TOPIC |
//           closest PEERID | quit
//   stdout: PEER_ID id, LISTEN ma, MSG from topic text, MESH topic n,
//           TOPIC_PEERS topic n, KAD_RESPONSE from n ids..., DIALED id,
//           OK cmd, ERR text
//
// Only the published npm packages are used; no libp2p internals.
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const npmRoot = process.env.VEIL_NPM_MODULES ?? path.resolve(here, '../../../tools/npm/node_modules')

// Resolves a package's ESM entry from tools/npm/node_modules through its
// package.json "exports" (this script does not live next to node_modules).
function entry (name) {
  const dir = path.join(npmRoot, name)
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  let target = pkg.exports?.['.'] ?? pkg.exports ?? pkg.main
  while (target && typeof target === 'object') target = target.import ?? target.default
  return pathToFileURL(path.join(dir, target)).href
}
const load = (name) => import(entry(name))

const { createLibp2p } = await load('libp2p')
const { tcp } = await load('@libp2p/tcp')
const { noise } = await load('@chainsafe/libp2p-noise')
const { yamux } = await load('@chainsafe/libp2p-yamux')
const { identify } = await load('@libp2p/identify')
const { ping } = await load('@libp2p/ping')
const { gossipsub } = await load('@libp2p/gossipsub')
const { kadDHT } = await load('@libp2p/kad-dht')
const { multiaddr } = await load('@multiformats/multiaddr')
const { peerIdFromString } = await load('@libp2p/peer-id')

const out = (line) => process.stdout.write(line + '\n')
const topics = process.argv.slice(2)

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false }),
    // LAN test: server mode forced, loopback addresses kept
    dht: kadDHT({ clientMode: false, peerInfoMapper: (p) => p, allowQueryWithZeroPeers: true })
  }
})

node.services.pubsub.addEventListener('message', (evt) => {
  const m = evt.detail
  const from = m.type === 'signed' ? m.from.toString() : '?'
  out(`MSG ${from} ${m.topic} ${new TextDecoder().decode(m.data)}`)
})
for (const t of topics) node.services.pubsub.subscribe(t)

out(`PEER_ID ${node.peerId.toString()}`)
for (const ma of node.getMultiaddrs()) out(`LISTEN ${ma.toString()}`)

async function command (line) {
  const [cmd, ...rest] = line.trim().split(' ')
  switch (cmd) {
    case 'dial': {
      const conn = await node.dial(multiaddr(rest[0]))
      out(`DIALED ${conn.remotePeer.toString()}`)
      break
    }
    case 'publish': {
      const res = await node.services.pubsub.publish(rest[0], new TextEncoder().encode(rest.slice(1).join(' ')))
      out(`OK publish ${res.recipients.length}`)
      break
    }
    case 'mesh':
      out(`MESH ${rest[0]} ${node.services.pubsub.getMeshPeers(rest[0]).length}`)
      break
    case 'peers':
      out(`TOPIC_PEERS ${rest[0]} ${node.services.pubsub.getSubscribers(rest[0]).length}`)
      break
    case 'closest': {
      // one FIND_NODE per queried peer; report each answer and who sent it
      const key = peerIdFromString(rest[0]).toMultihash().bytes
      for await (const ev of node.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(10000) })) {
        if (ev.name === 'PEER_RESPONSE') {
          out(`KAD_RESPONSE ${ev.from.toString()} ${ev.closer.length} ${ev.closer.map((p) => p.id.toString()).join(' ')}`.trimEnd())
        }
      }
      out('OK closest')
      break
    }
    case 'quit':
      await node.stop()
      process.exit(0)
      break
    default:
      out(`ERR unknown command ${cmd}`)
  }
}

const rl = readline.createInterface({ input: process.stdin })
let chain = Promise.resolve()
rl.on('line', (line) => {
  chain = chain.then(() => command(line)).catch((err) => out(`ERR ${line.split(' ')[0]}: ${err.message}`))
})
rl.on('close', () => { chain.then(() => node.stop()).then(() => process.exit(0)) })
process.on('SIGTERM', () => { node.stop().then(() => process.exit(0)) })
