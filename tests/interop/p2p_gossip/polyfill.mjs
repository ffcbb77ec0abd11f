// SPDX-License-Identifier: Apache-2.0
// polyfill.mjs (gossipsub/Kademlia interop) - Promise.withResolvers for
// Node 20, which js-libp2p 3.x needs (Node 22 has it); load with --import.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
