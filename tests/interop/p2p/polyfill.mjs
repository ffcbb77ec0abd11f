// SPDX-License-Identifier: Apache-2.0
// polyfill.mjs (p2p core interop) - Promise.withResolvers for Node 20
// (js-libp2p 3.x uses it; Node 22+ has it). Load with `node --import`.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
