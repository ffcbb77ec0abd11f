// SPDX-License-Identifier: Apache-2.0
// js_peer.mjs (p2p core interop) - a stock js-libp2p 3.x peer (TCP, Noise,
// yamux, identify + push, ping) plus a /perf/1.0.0 handler and client written here
// from libp2p/specs perf/perf.md (no npm perf package is pinned).
//
//   node --import ./polyfill.mjs js_peer.mjs listen [--lie] [--key-type T]
//       prints PEER_ID and LISTEN lines, then IDENTIFIED <peer> <protocols>
//       for every identified peer; runs until SIGTERM.
//       --lie: the identity key in the Noise payload is not the key that
//       signs the static key (a peer lying about its key). --key-type:
//       Ed25519 (default), secp256k1 or RSA identity key.
//   node ... js_peer.mjs dial MULTIADDR [PINGS]
//       prints one JSON line: {"peer", "agent", "protocols", "rtt_ms": [...]},
//       after registering /veil-test/late/1.0.0 (sent by identify push)
//   node ... js_peer.mjs perf MULTIADDR UPLOAD DOWNLOAD
//       prints one JSON line with the throughput of each direction.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const npmRoot = process.env.VEIL_NPM_MODULES ?? path.resolve(here, '../../../tools/npm/node_modules')

// Resolves an ESM package (or package subpath) under tools/npm/node_modules
// through its package.json "exports" map, so no node_modules needs to sit
// next to this script.
function resolveEsm (name) {
  const parts = name.split('/')
  const pkgName = name.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
  const sub = '.' + name.slice(pkgName.length)
  const dir = path.join(npmRoot, pkgName)
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  let target = pkg.exports?.[sub] ?? (sub === '.' ? pkg.exports ?? pkg.main : undefined)
  while (target && typeof target === 'object') target = target.import ?? target.default ?? target.node
  if (typeof target !== 'string') throw new Error(`cannot resolve ${name}`)
  return pathToFileURL(path.join(dir, target)).href
}
const load = (name) => import(resolveEsm(name))

const { createLibp2p } = await load('libp2p')
const { tcp } = await load('@libp2p/tcp')
const { noise } = await load('@chainsafe/libp2p-noise')
const { yamux } = await load('@chainsafe/libp2p-yamux')
const { identify, identifyPush } = await load('@libp2p/identify')
const { ping } = await load('@libp2p/ping')
const { generateKeyPair } = await load('@libp2p/crypto/keys')
const { multiaddr } = await load('@multiformats/multiaddr')

const PERF = '/perf/1.0.0'
const CHUNK = new Uint8Array(64 * 1024)

async function sendBytes (stream, n) {
  let left = BigInt(n)
  while (left > 0n) {
    const size = left < BigInt(CHUNK.length) ? Number(left) : CHUNK.length
    if (!stream.send(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) {
      await stream.onDrain()
    }
    left -= BigInt(size)
  }
}

async function perfServer (stream) {
  let header = new Uint8Array(0)
  for await (const chunk of stream) {
    if (header.length < 8) {
      const buf = chunk.subarray ? chunk.subarray() : chunk
      const merged = new Uint8Array(header.length + buf.length)
      merged.set(header); merged.set(buf, header.length)
      header = merged.length > 8 ? merged.subarray(0, 8) : merged
    }
  }
  if (header.length < 8) { stream.abort(new Error('short perf header')); return }
  const want = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0)
  await sendBytes(stream, want)
  await stream.close()
}

async function makeNode (lie, keyType = 'Ed25519') {
  let privateKey = keyType === 'RSA' ? await generateKeyPair('RSA', 2048) : await generateKeyPair(keyType)
  if (lie) {
    const other = await generateKeyPair('Ed25519')
    const real = privateKey
    // Claims other's public key but signs with real's private key.
    privateKey = {
      type: real.type,
      raw: real.raw,
      publicKey: other.publicKey,
      sign: (data) => real.sign(data),
      equals: (k) => real.equals(k)
    }
  }
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), identifyPush: identifyPush({ debounce: 10 }), ping: ping() },
    connectionManager: { inboundConnectionThreshold: 1000 }
  })
  await node.handle(PERF, (stream) => { perfServer(stream).catch(() => {}) })
  return node
}

function fail (msg) {
  console.error('js_peer: ' + msg)
  process.exit(1)
}

const [mode, ...args] = process.argv.slice(2)
const timer = setTimeout(() => fail('timed out'), 120000)

if (mode === 'listen') {
  clearTimeout(timer)
  const kt = args.indexOf('--key-type')
  const node = await makeNode(args.includes('--lie'), kt >= 0 ? args[kt + 1] : 'Ed25519')
  node.addEventListener('peer:identify', (evt) => {
    const d = evt.detail
    console.log(`IDENTIFIED ${d.peerId.toString()} ${d.protocols.join(',')}`)
  })
  console.log(`PEER_ID ${node.peerId.toString()}`)
  for (const ma of node.getMultiaddrs()) console.log(`LISTEN ${ma.toString()}`)
  const stop = async () => { await node.stop(); process.exit(0) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  setInterval(() => {}, 1 << 30) // keep running until a signal
} else if (mode === 'dial') {
  const node = await makeNode(false)
  const ma = multiaddr(args[0])
  const pings = Number(args[1] ?? 3)
  const identified = new Promise((resolve) => {
    node.addEventListener('peer:identify', (evt) => resolve(evt.detail))
  })
  try {
    await node.dial(ma)
    const info = await identified
    const rtts = []
    for (let i = 0; i < pings; i++) rtts.push(await node.services.ping.ping(ma))
    // A protocol registered now reaches the remote by identify push.
    await node.handle('/veil-test/late/1.0.0', (stream) => { stream.abort(new Error('unused')) })
    await new Promise((resolve) => setTimeout(resolve, 300))
    console.log(JSON.stringify({
      peer: info.peerId.toString(),
      agent: info.agentVersion,
      protocols: info.protocols,
      rtt_ms: rtts
    }))
  } catch (e) {
    fail(e.message)
  }
  await node.stop()
  process.exit(0)
} else if (mode === 'perf') {
  const node = await makeNode(false)
  const ma = multiaddr(args[0])
  const up = BigInt(args[1])
  const down = BigInt(args[2])
  try {
    const t0 = process.hrtime.bigint()
    const stream = await node.dialProtocol(ma, PERF)
    const tStart = process.hrtime.bigint()
    const hdr = new Uint8Array(8)
    new DataView(hdr.buffer).setBigUint64(0, down)
    stream.send(hdr)
    await sendBytes(stream, up)
    await stream.close()
    let got = 0n
    let tFirst = 0n
    for await (const chunk of stream) {
      if (tFirst === 0n) tFirst = process.hrtime.bigint()
      got += BigInt(chunk.byteLength)
    }
    const tEnd = process.hrtime.bigint()
    if (tFirst === 0n) tFirst = tEnd
    if (got !== down) fail(`perf: received ${got} bytes, wanted ${down}`)
    const upS = Number(tFirst - tStart) / 1e9
    const downS = Number(tEnd - tFirst) / 1e9
    console.log(JSON.stringify({
      upload_bytes: Number(up),
      download_bytes: Number(down),
      upload_s: upS,
      download_s: downS,
      upload_gbit_s: upS > 0 ? Number(up) * 8 / upS / 1e9 : 0,
      download_gbit_s: downS > 0 ? Number(down) * 8 / downS / 1e9 : 0,
      connect_ms: Number(tStart - t0) / 1e6
    }))
  } catch (e) {
    fail(e.message)
  }
  await node.stop()
  process.exit(0)
} else {
  fail('usage: js_peer.mjs listen [--lie] [--key-type T] | dial MA [PINGS] | perf MA UP DOWN')
}
