// A Tessera client written from specs/p2p-interface.md and specs/das-core.md alone, on js-libp2p:
// the interop test (tests/network/test_js_interop.py) runs it against a py-libp2p node.
//
// Usage: node client.mjs '{"addr": MULTIADDR, "data_root": HEX, "coordinates": [[row, column], ...],
//                         "grid_coordinates": [[row, column], ...]}'
// (grid_coordinates, optional: cells of the 2D grid, rows 0..2R-1, asked on /tessera/samples/2; the
// report carries their bytes so the test checks their KZG proofs, which this client cannot.)
// Prints one JSON object: what each check saw. It judges nothing itself except the Merkle checks
// (the test asserts), and exits 0 unless it could not run at all.

import './node20.mjs'
import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { plaintext } from '@libp2p/plaintext'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const TIMEOUT_MS = 10_000

// specs/das-core.md: Wire encoding, get_commitment_gindex
const SAMPLE_BYTES = 2544
const COMMITMENT_BRANCH_DEPTH = 12
const MAX_ROWS_PER_BLOB = 512
const BYTES_PER_COMMITMENT = 48
const BRANCH_OFFSET = 2160
const COMMITMENT_OFFSET = 2112
// specs/p2p-interface.md: Writing a client (bytes of a grid sample: row, column, cell, proof)
const GRID_SAMPLE_BYTES = 2112
const BYTES_PER_CELL = 2048
// specs/p2p-interface.md: Framing and result codes
const RESULT_CODES = ['SUCCESS', 'INVALID_REQUEST', 'SERVER_ERROR', 'RESOURCE_UNAVAILABLE', 'RATE_LIMITED', 'IGNORED']

const sha256 = (...parts) => {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return new Uint8Array(hash.digest())
}
const hex = (bytes) => Buffer.from(bytes).toString('hex')
const uint64le = (value) => {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true)
  return out
}
const chunk = (bytes) => {
  const out = new Uint8Array(32)
  out.set(bytes)
  return out
}

// SSZ merkleization with SHA-256, as das-core's hash_tree_root: chunks padded with zero chunks to the
// next power of two of `limit`, hashed in pairs up to one root.
function merkleize (chunks, limit) {
  let width = 1
  while (width < limit) width *= 2
  let level = chunks.slice()
  while (level.length < width) level.push(new Uint8Array(32))
  while (level.length > 1) {
    const next = []
    for (let i = 0; i < level.length; i += 2) next.push(sha256(level[i], level[i + 1]))
    level = next
  }
  return level[0]
}

function commitmentLeaf (commitment) {
  const padded = new Uint8Array(64)
  padded.set(commitment)
  return sha256(padded.subarray(0, 32), padded.subarray(32))
}

// hash_tree_root(BlobHeader): three fields (byte_length, row_count, row_commitments) padded to four.
function headerRoot (header) {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  const offset = view.getUint32(16, true)
  const commitments = []
  for (let at = offset; at < header.length; at += BYTES_PER_COMMITMENT) {
    commitments.push(commitmentLeaf(header.subarray(at, at + BYTES_PER_COMMITMENT)))
  }
  const listRoot = sha256(merkleize(commitments, MAX_ROWS_PER_BLOB), chunk(uint64le(commitments.length)))
  return merkleize([chunk(header.subarray(0, 8)), chunk(header.subarray(8, 16)), listRoot], 4)
}

// is_valid_commitment_branch: the index within depth 12 is 2048 + row (get_commitment_gindex(row)
// = 6144 + row, taken modulo 2**12).
function branchReachesRoot (sample, dataRoot) {
  const row = Number(new DataView(sample.buffer, sample.byteOffset).getBigUint64(0, true))
  let node = commitmentLeaf(sample.subarray(COMMITMENT_OFFSET, COMMITMENT_OFFSET + BYTES_PER_COMMITMENT))
  let index = 2048 + row
  for (let level = 0; level < COMMITMENT_BRANCH_DEPTH; level++) {
    const sibling = sample.subarray(BRANCH_OFFSET + 32 * level, BRANCH_OFFSET + 32 * (level + 1))
    node = index % 2 === 1 ? sha256(sibling, node) : sha256(node, sibling)
    index = Math.floor(index / 2)
  }
  return hex(node) === hex(dataRoot)
}

function frame (body) {
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length, true)
  out.set(body, 4)
  return out
}

// One request on a new stream: write the frame (half-closing unless told not to), read the answer to
// its end: result code, uint32 length, body.
async function request (connection, protocol, body, { halfClose = true } = {}) {
  const signal = AbortSignal.timeout(TIMEOUT_MS)
  const stream = await connection.newStream(protocol, { signal })
  stream.send(frame(body))
  if (halfClose) await stream.close({ signal })
  const parts = []
  let length = 0
  for await (const part of stream) {
    const bytes = part.subarray()
    parts.push(bytes)
    length += bytes.length
    // Buffer.concat may return a slice of Node's shared pool: read the length on the Buffer itself
    // (its own offset), not from the start of its underlying ArrayBuffer.
    if (!halfClose && length >= 5 && length >= 5 + Buffer.concat(parts).readUInt32LE(1)) break
  }
  const answer = new Uint8Array(Buffer.concat(parts))
  if (!halfClose) await stream.close({ signal })
  const code = RESULT_CODES[answer[0]] ?? `unknown ${answer[0]}`
  const announced = new DataView(answer.buffer, answer.byteOffset).getUint32(1, true)
  return { code, announced, body: answer.subarray(5) }
}

function samplesRequest (dataRoot, coordinates) {
  const body = new Uint8Array(32 + 4 + 16 * coordinates.length)
  body.set(dataRoot)
  const view = new DataView(body.buffer)
  view.setUint32(32, 36, true)
  coordinates.forEach(([row, column], i) => {
    view.setBigUint64(36 + 16 * i, BigInt(row), true)
    view.setBigUint64(44 + 16 * i, BigInt(column), true)
  })
  return body
}

// SamplesResponse: offset of `held`, offset of `samples`, the bitlist (delimiter bit last), the samples.
function parseSamplesResponse (body, count) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const heldAt = view.getUint32(0, true)
  const samplesAt = view.getUint32(4, true)
  const bits = body.subarray(heldAt, samplesAt)
  const held = []
  for (let i = 0; i < count; i++) held.push((bits[i >> 3] >> (i & 7)) & 1)
  const delimiter = (bits[count >> 3] >> (count & 7)) & 1
  const samples = []
  for (let at = samplesAt; at < body.length; at += SAMPLE_BYTES) samples.push(body.subarray(at, at + SAMPLE_BYTES))
  return { held, delimiter, samples }
}

// GridSamplesResponse: the layout of SamplesResponse with 2,112-byte grid samples.
function parseGridSamplesResponse (body, count) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const heldAt = view.getUint32(0, true)
  const samplesAt = view.getUint32(4, true)
  const bits = body.subarray(heldAt, samplesAt)
  const held = []
  for (let i = 0; i < count; i++) held.push((bits[i >> 3] >> (i & 7)) & 1)
  const delimiter = (bits[count >> 3] >> (count & 7)) & 1
  const samples = []
  for (let at = samplesAt; at < body.length; at += GRID_SAMPLE_BYTES) {
    const sample = body.subarray(at, at + GRID_SAMPLE_BYTES)
    const sampleView = new DataView(sample.buffer, sample.byteOffset, sample.byteLength)
    samples.push({
      row: Number(sampleView.getBigUint64(0, true)),
      column: Number(sampleView.getBigUint64(8, true)),
      cell: hex(sample.subarray(16, 16 + BYTES_PER_CELL)),
      proof: hex(sample.subarray(16 + BYTES_PER_CELL, GRID_SAMPLE_BYTES))
    })
  }
  return { held, delimiter, samples }
}

async function main () {
  const { addr, data_root: rootHex, coordinates, grid_coordinates: gridCoordinates = [] } = JSON.parse(process.argv[2])
  const dataRoot = new Uint8Array(Buffer.from(rootHex, 'hex'))
  const target = multiaddr(addr)
  const report = {}

  const node = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify({ runOnConnectionOpen: false }), ping: ping() }
  })
  try {
    const connection = await node.dial(target, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    report.connection = { encryption: connection.encryption, multiplexer: connection.multiplexer, peer: connection.remotePeer.toString() }

    const identified = await node.services.identify.identify(connection, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    report.identify = { protocols: identified.protocols, listen_addrs: identified.listenAddrs.map(String) }

    report.ping = { rtt_ms: await node.services.ping.ping(target, { signal: AbortSignal.timeout(TIMEOUT_MS) }) }

    const header = await request(connection, '/tessera/header/2', dataRoot)
    report.header = { code: header.code, bytes: header.body.length, root_matches: header.code === 'SUCCESS' && hex(headerRoot(header.body)) === rootHex }

    // The server reads a request by its length: the client need not half-close before the answer.
    const unclosed = await request(connection, '/tessera/header/2', dataRoot, { halfClose: false })
    report.header_without_half_close = { code: unclosed.code, bytes: unclosed.body.length }

    const samples = await request(connection, '/tessera/samples/3', samplesRequest(dataRoot, coordinates))
    report.samples = { code: samples.code }
    if (samples.code === 'SUCCESS') {
      const parsed = parseSamplesResponse(samples.body, coordinates.length)
      const commitments = header.body.subarray(20)
      report.samples.held = parsed.held.reduce((a, b) => a + b, 0)
      report.samples.delimiter = parsed.delimiter
      report.samples.received = parsed.samples.length
      report.samples.verified = parsed.samples.filter((sample, i) => {
        const view = new DataView(sample.buffer, sample.byteOffset)
        const [row, column] = coordinates[i]
        const commitment = sample.subarray(COMMITMENT_OFFSET, COMMITMENT_OFFSET + BYTES_PER_COMMITMENT)
        return sample.length === SAMPLE_BYTES &&
          Number(view.getBigUint64(0, true)) === row && Number(view.getBigUint64(8, true)) === column &&
          hex(commitment) === hex(commitments.subarray(48 * row, 48 * (row + 1))) &&
          branchReachesRoot(sample, dataRoot)
      }).length
    }

    if (gridCoordinates.length > 0) {
      // The same request layout on /tessera/samples/2; rows run over the 2D grid (0..2R-1).
      const grid = await request(connection, '/tessera/samples/2', samplesRequest(dataRoot, gridCoordinates))
      report.grid_samples = { code: grid.code }
      if (grid.code === 'SUCCESS') {
        const parsed = parseGridSamplesResponse(grid.body, gridCoordinates.length)
        report.grid_samples.held = parsed.held.reduce((a, b) => a + b, 0)
        report.grid_samples.delimiter = parsed.delimiter
        report.grid_samples.samples = parsed.samples
      }
    }

    // Bytes that do not decode: a SamplesRequest whose offset is not 36.
    const garbage = samplesRequest(dataRoot, coordinates.slice(0, 1))
    new DataView(garbage.buffer).setUint32(32, 7, true)
    const malformed = await request(connection, '/tessera/samples/3', garbage)
    report.malformed = { code: malformed.code, message: new TextDecoder().decode(malformed.body) }
  } finally {
    await node.stop()
  }

  // A dial that offers only /plaintext/2.0.0 must be refused at negotiation.
  const insecure = await createLibp2p({ transports: [tcp()], connectionEncrypters: [plaintext()], streamMuxers: [yamux()] })
  try {
    const connection = await insecure.dial(target, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    report.plaintext = { refused: false, encryption: connection.encryption }
  } catch (error) {
    report.plaintext = { refused: true, error: `${error.name}: ${error.message}` }
  } finally {
    await insecure.stop()
  }
  process.stdout.write(JSON.stringify(report) + '\n')
}

await main()
