/**
 * The socket reader: HTTP/1.1 requests in a strict subset, read from a connection's bytes and
 * answered by a handler before Node's HTTP server sees them; at the first request that is not,
 * the connection is Node's. It imports `node:*` and its own files only (the dependency rule's
 * `raw-http-alone`); what a handler is given and writes is declared in contract.ts.
 */
export type { RawHandler, RawHost, RawRequest, RawResponse } from './contract.js'
export { MAX_HEAD_BYTES, parseHead, type RawHead } from './parse-head.js'
export { readRaw } from './server.js'
