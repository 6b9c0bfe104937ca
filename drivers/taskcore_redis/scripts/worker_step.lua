-- A worker's step between jobs: complete the job it held, then reserve the next one.
-- Used for complete (no queues), reserve (no completion) and complete_and_reserve: one
-- round trip per job, atomic as a whole.
--
-- KEYS[1]            the worker's current-job key
-- KEYS[2]            the failed list
-- KEYS[3]            the workers set
-- KEYS[4]            the worker's started-time key
-- KEYS[5]            the worker's ping key
-- KEYS[6 .. 5+n]     stat counters to increment (n = ARGV[2])
-- KEYS[6+n ..]       queue lists to reserve from, in priority order
-- ARGV[1]            "1": complete (apply counters and failure, delete the current job)
-- ARGV[2]            n, the number of stat counters
-- ARGV[3]            a failure record to RPUSH, or "" for none
-- ARGV[4]            the worker's workers-set member
-- ARGV[5]            its started time (whole seconds), written only when absent
-- ARGV[6]            its ping record
-- ARGV[7 .. 6+n]     the increment of each counter
-- ARGV[7+n]          run_at, already a JSON string literal
-- ARGV[8+n]          the worker name, already a JSON string literal
-- ARGV[9+n ..]       each queue name, already a JSON string literal (same order as the keys)
-- Returns {index of the queue (1-based), payload} or nil when every queue is empty.
--
-- A reserve attempt (at least one queue) by a worker missing from the workers set (a scheduler
-- cleaned it while it was alive) registers it again first, so whatever it reserves stays
-- reachable by recovery: one SISMEMBER per call when it is registered.
--
-- The current-job record is built by concatenation so the payload keeps its exact bytes
-- (cjson would reorder keys, turn [] into {} and escape /).

local current = KEYS[1]
local n = tonumber(ARGV[2])

if ARGV[1] == "1" then
  for i = 1, n do
    -- pcall: a counter another client left holding a non-integer is skipped (and left as
    -- it is) instead of failing every worker's step
    redis.pcall("INCRBY", KEYS[5 + i], ARGV[6 + i])
  end
  if ARGV[3] ~= "" then
    redis.call("RPUSH", KEYS[2], ARGV[3])
  end
  redis.call("DEL", current)
end

local first_queue = 6 + n
if first_queue > #KEYS then
  return nil
end

if redis.call("SISMEMBER", KEYS[3], ARGV[4]) == 0 then
  redis.call("SADD", KEYS[3], ARGV[4])
  redis.call("SET", KEYS[4], ARGV[5], "NX")
  redis.call("SET", KEYS[5], ARGV[6])
end

local run_at = ARGV[7 + n]
local worker = ARGV[8 + n]
for i = first_queue, #KEYS do
  local payload = redis.call("LPOP", KEYS[i])
  if payload then
    local index = i - first_queue + 1
    local queue = ARGV[8 + n + index]
    redis.call("SET", current, '{"run_at":' .. run_at .. ',"queue":' .. queue ..
      ',"worker":' .. worker .. ',"payload":' .. payload .. '}')
    return {index, payload}
  end
end
return nil
