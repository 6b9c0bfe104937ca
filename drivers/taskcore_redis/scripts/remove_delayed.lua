-- Remove a payload from every second it is scheduled at.
-- KEYS[1] timestamps:<payload>, KEYS[2] delayed_queue_schedule
-- ARGV[1] key prefix ("<ns>:" or ""), ARGV[2] payload
-- Returns the seconds (as strings) whose list held the payload. Lists left empty are deleted
-- with their zset member, so no view shows an empty second.
local removed = {}
for _, member in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  local list = ARGV[1] .. member
  if redis.call("LREM", list, 0, ARGV[2]) > 0 then
    removed[#removed + 1] = string.sub(member, 9) -- after "delayed:"
  end
  if redis.call("LLEN", list) == 0 then
    redis.call("DEL", list)
    redis.call("ZREM", KEYS[2], string.sub(member, 9))
  end
end
redis.call("DEL", KEYS[1])
return removed
