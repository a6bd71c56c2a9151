import { SingleBar } from 'cli-progress'
import type { Io } from './io.js'

export interface Progress {
  update(done: number): void
  stop(): void
}

const none: Progress = { update: () => {}, stop: () => {} }

/** A progress bar with events/s and ETA on stderr, only when stderr is a terminal. */
export const progressBar = (io: Io, label: string, total: number, unit = 'events'): Progress => {
  const stream = io.progressStream
  if (!stream) return none
  const started = Date.now()
  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 50,
    fps: 5,
  })
  bar.start(total, 0, { rate: 0 })
  return {
    update(done) {
      const seconds = (Date.now() - started) / 1000
      bar.setTotal(Math.max(total, done))
      bar.update(done, { rate: seconds > 0 ? Math.round(done / seconds) : 0 })
    },
    stop: () => bar.stop(),
  }
}
