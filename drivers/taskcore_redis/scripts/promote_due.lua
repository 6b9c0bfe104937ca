-- Move due delayed jobs to their queues: oldest second first, FIFO within a second.
-- KEYS[1] delayed_queue_schedule
-- ARGV[1] key prefix ("<ns>:" or ""), ARGV[2] due second (inclusive: floor(now - 0.5), so
-- a job stored at Math.round of its requested time never moves early), ARGV[3] job limit,
-- ARGV[4] the pushed channel, ARGV[5] "SPUBLISH" to publish on it as a shard channel (Redis
-- Cluster), else PUBLISH
-- Returns a flat list {ts, queue, payload, ts, queue, payload, ...} of what moved.
--
-- The queue is read from the payload's JSON "queue" field; the payload itself is pushed raw.
-- A payload that is not a JSON object with a non-empty string "queue" cannot be routed: it is
-- left in its delayed list, in its place, and that second is passed over (so callers never
-- loop on it); the second stays listed until the entry is removed. A schedule member that is
-- not a whole number of seconds, a delayed:<ts> key that is not a list, and an entry whose
-- queue key is not a list are passed over the same way, untouched: one hostile record never
-- stops the promotion of the others.

local schedule = KEYS[1]
local prefix = ARGV[1]
local due = ARGV[2]
local limit = tonumber(ARGV[3])
local moved = {}
local moved_count = 0
local woken = {}
local woken_order = {}
local offset = 0 -- due seconds still holding unroutable entries, which stay in the zset
local page = 100

local function route(payload)
  local ok, job = pcall(cjson.decode, payload)
  if ok and type(job) == "table" and type(job.queue) == "string" and job.queue ~= "" then
    return job.queue
  end
  return nil
end

local function failed(reply)
  return type(reply) == "table" and reply.err ~= nil
end

-- Moves the due entries of second ts; returns true when entries it cannot move stay there.
local function promote_second(ts)
  local member = "delayed:" .. ts
  local list = prefix .. member
  local kind = redis.call("TYPE", list)["ok"]
  if not string.match(ts, "^%-?%d+$") or (kind ~= "list" and kind ~= "none") then
    return true
  end
  local kept = {}
  while moved_count < limit do
    local payload = redis.call("LPOP", list)
    if not payload then
      break
    end
    local queue = route(payload)
    if queue and not failed(redis.pcall("RPUSH", prefix .. "queue:" .. queue, payload)) then
      redis.pcall("SADD", prefix .. "queues", queue)
      redis.pcall("SREM", prefix .. "timestamps:" .. payload, member)
      moved[#moved + 1] = ts
      moved[#moved + 1] = queue
      moved[#moved + 1] = payload
      moved_count = moved_count + 1
      if not woken[queue] then
        woken[queue] = true
        woken_order[#woken_order + 1] = queue
      end
    else
      kept[#kept + 1] = payload
    end
  end
  -- entries that cannot move go back to the head, in their original order
  for i = #kept, 1, -1 do
    redis.call("LPUSH", list, kept[i])
  end
  if redis.call("LLEN", list) == 0 then
    redis.call("DEL", list)
    redis.call("ZREM", schedule, ts)
    return false
  end
  return #kept > 0
end

while moved_count < limit do
  local stamps = redis.call("ZRANGEBYSCORE", schedule, "-inf", due, "LIMIT", offset, page)
  if #stamps == 0 then
    break
  end
  for _, ts in ipairs(stamps) do
    if moved_count >= limit then
      break
    end
    if promote_second(ts) then
      offset = offset + 1
    end
  end
end

for _, queue in ipairs(woken_order) do
  redis.call(ARGV[5] == "SPUBLISH" and "SPUBLISH" or "PUBLISH", ARGV[4], queue)
end
return moved
