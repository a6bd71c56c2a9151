/**
 * `node --import tsx bench/backpressure.ts [checkout]`: a client pipelines ~30 MB of forward-auth
 * requests on one connection and reads none of the answers (test/support/unread-flood.ts); prints
 * how much the serving child read and the growth of its resident set. `checkout` (default: this
 * one) is the directory whose raw path serves, so the same measure runs on another commit;
 * BENCH_MB changes the size.
 */
import { floodWithoutReading } from '../test/support/unread-flood.js'

const MB = 1024 * 1024
const f = await floodWithoutReading(Number(process.env.BENCH_MB ?? 30) * MB, process.argv[2])
const mb = (n: number) => Math.round((n / MB) * 10) / 10
console.log(
  JSON.stringify({
    checkout: process.argv[2] ?? '.',
    sentMB: mb(f.sent),
    readMB: mb(f.end.bytesRead),
    rssGrowthMB: mb(Math.max(f.stopped.rss, f.end.rss) - f.baseline),
    serverWritableKB: Math.round(f.end.writableLength / 1024),
    serverPaused: f.end.paused,
  }),
)
