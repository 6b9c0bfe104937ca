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
-- KEYS[6+n ..]       the queues to reserve from, as ARGV[9+n] says (below)
-- ARGV[1]            "1": complete (apply counters and failure, delete the current job)
-- ARGV[2]            n, the number of stat counters
-- ARGV[3]            a failure record to RPUSH, or "" for none
-- ARGV[4]            the worker's workers-set member
-- ARGV[5]            its started time (whole seconds), written only when absent
-- ARGV[6]            its ping record
-- ARGV[7 .. 6+n]     the increment of each counter
-- ARGV[7+n]          run_at, already a JSON string literal
-- ARGV[8+n]          the worker name, already a JSON string literal
-- ARGV[9+n]          how the queues come (absent: complete only, reserve nothing):
--   "inline"  KEYS[6+n ..] the queue lists in priority order; ARGV[10+n ..] each queue name,
--             already a JSON string literal (same order as the keys)
--   "stored"  KEYS[6+n] the worker's stored queue list (written by "store"); ARGV[10+n] the
--             stamp it must hold, ARGV[11+n] its number of queues m. When the key does not
--             hold that stamp and 1 + 2m entries, nothing is done and {0} is returned: the
--             caller sends the list again with "store".
--   "store"   KEYS[6+n] the stored queue list to (re)write, KEYS[7+n ..] the queue lists;
--             ARGV[10+n] stamp, ARGV[11+n] m, ARGV[12+n] its TTL in seconds, ARGV[13+n ..]
--             the JSON names: writes {stamp, m keys, m names} then reserves as "inline".
-- Returns {index of the queue (1-based), payload}, nil when every queue is empty, or {0}
-- ("stored" only) when the stored list must be sent again.
--
-- "stored" keeps a call's size and its argument handling independent of the number of queues:
-- the list is read from the server in chunks (16, 32, ... up to 1024 keys) and one EXISTS per
-- chunk skips a chunk of empty queues in C, so only a chunk holding a job is popped queue by
-- queue. Priority order and FIFO are those of the inline loop.
--
-- A reserve attempt (at least one queue) by a worker missing from the workers set (a scheduler
-- cleaned it while it was alive) registers it again first, so whatever it reserves stays
-- reachable by recovery: one SISMEMBER per call when it is registered.
--
-- The current-job record is built by concatenation so the payload keeps its exact bytes
-- (cjson would reorder keys, turn [] into {} and escape /).

local current = KEYS[1]
local n = tonumber(ARGV[2])
local first_queue = 6 + n
local mode = ARGV[9 + n]

if mode == "stored" then
  local list = KEYS[first_queue]
  local m = tonumber(ARGV[11 + n])
  if redis.call("TYPE", list)["ok"] ~= "list" or redis.call("LLEN", list) ~= 1 + 2 * m
      or redis.call("LINDEX", list, 0) ~= ARGV[10 + n] then
    return {0}
  end
end

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

if mode ~= "inline" and mode ~= "stored" and mode ~= "store" then
  return nil
end

if redis.call("SISMEMBER", KEYS[3], ARGV[4]) == 0 then
  redis.call("SADD", KEYS[3], ARGV[4])
  redis.call("SET", KEYS[4], ARGV[5], "NX")
  redis.call("SET", KEYS[5], ARGV[6])
end

local run_at = ARGV[7 + n]
local worker = ARGV[8 + n]

local function take(queue_json, index, payload)
  redis.call("SET", current, '{"run_at":' .. run_at .. ',"queue":' .. queue_json ..
    ',"worker":' .. worker .. ',"payload":' .. payload .. '}')
  return {index, payload}
end

if mode == "stored" then
  local list = KEYS[first_queue]
  local m = tonumber(ARGV[11 + n])
  local lo, size = 1, 16
  while lo <= m do
    local hi = math.min(lo + size - 1, m)
    local keys = redis.call("LRANGE", list, lo, hi)
    if redis.call("EXISTS", unpack(keys)) > 0 then
      for j = 1, #keys do
        local payload = redis.call("LPOP", keys[j])
        if payload then
          local index = lo + j - 1
          return take(redis.call("LINDEX", list, m + index), index, payload)
        end
      end
    end
    lo = hi + 1
    size = math.min(size * 2, 1024)
  end
  return nil
end

local names = 10 + n -- the first JSON name (inline)
if mode == "store" then
  local list = KEYS[first_queue]
  first_queue = first_queue + 1
  names = 13 + n
  redis.call("DEL", list)
  redis.call("RPUSH", list, ARGV[10 + n])
  for lo = first_queue, #KEYS, 1000 do
    redis.call("RPUSH", list, unpack(KEYS, lo, math.min(lo + 999, #KEYS)))
  end
  for lo = names, #ARGV, 1000 do
    redis.call("RPUSH", list, unpack(ARGV, lo, math.min(lo + 999, #ARGV)))
  end
  redis.call("EXPIRE", list, ARGV[12 + n])
end

for i = first_queue, #KEYS do
  local payload = redis.call("LPOP", KEYS[i])
  if payload then
    local index = i - first_queue + 1
    return take(ARGV[names + index - 1], index, payload)
  end
end
return nil
