// js-libp2p 3 targets Node.js 22; the CI image has Node.js 20, which lacks Promise.withResolvers
// (ES2024). This fills it in before any libp2p module loads (client.mjs imports this first).
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
