/**
 * Reserves slices in one window for a batch of requests: KEYS[1] is the window's hash (one per
 * window, every token and stack a field of it), ARGV[1] how long it must live (ms), then per pair
 * `token field, stack field, want, token max, stack max`. Each pair gets as many units as both
 * budgets have left, up to `want` (0 when either is spent, and then nothing is counted), counted
 * first and taken back when over: two HINCRBYs a pair when the budgets have room. Returns, per
 * pair, `granted, token count, stack count`. Pairs are served in order, so two of one stack see
 * each other's units. One key per call: not for Redis Cluster's multi-key rules, but one node.
 */
export const RESERVE = `
local h = KEYS[1]
local out = {}
for a = 2, #ARGV, 5 do
  local want, tmax, smax = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local t = redis.call('HINCRBY', h, ARGV[a], want)
  local s = redis.call('HINCRBY', h, ARGV[a + 1], want)
  local granted = math.max(0, math.min(want, tmax - (t - want), smax - (s - want)))
  if granted < want then
    t = redis.call('HINCRBY', h, ARGV[a], granted - want)
    s = redis.call('HINCRBY', h, ARGV[a + 1], granted - want)
  end
  out[#out + 1] = granted
  out[#out + 1] = t
  out[#out + 1] = s
end
redis.call('PEXPIRE', h, ARGV[1])
return out
`

/** The script with its number of keys first (ioredis' defineCommand without a fixed count). */
export type Reserve = (keyCount: number, ...keysThenArgs: Array<string | number>) => Promise<number[]>
export const COMMAND = 'mtReserveWindow'
