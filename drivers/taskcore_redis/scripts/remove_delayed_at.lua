-- Remove every payload scheduled at one second (Stellar's "remove all tasks at a timestamp").
-- KEYS[1] delayed:<ts>, KEYS[2] delayed_queue_schedule
-- ARGV[1] key prefix ("<ns>:" or ""), ARGV[2] "delayed:<ts>" (the timestamps member, no
-- namespace), ARGV[3] ts
-- Returns the payloads removed, in scheduling order. Each payload's timestamps:<payload> set
-- loses this second (and is deleted when left empty); the list and its zset member go, so no
-- view shows the second any more. A delayed:<ts> key that is not a list (written by something
-- else) is left untouched and nothing is returned.
local kind = redis.call("TYPE", KEYS[1])["ok"]
if kind == "none" then
  redis.call("ZREM", KEYS[2], ARGV[3])
  return {}
end
if kind ~= "list" then
  return {}
end
local payloads = redis.call("LRANGE", KEYS[1], 0, -1)
local seen = {}
for _, payload in ipairs(payloads) do
  if not seen[payload] then
    seen[payload] = true
    local set = ARGV[1] .. "timestamps:" .. payload
    if redis.call("TYPE", set)["ok"] == "set" then
      redis.call("SREM", set, ARGV[2])
      if redis.call("SCARD", set) == 0 then
        redis.call("DEL", set)
      end
    end
  end
end
redis.call("DEL", KEYS[1])
redis.call("ZREM", KEYS[2], ARGV[3])
return payloads
