-- Every second that holds at least one delayed job, ascending by score (numeric order).
-- KEYS[1] delayed_queue_schedule; ARGV[1] key prefix ("<ns>:" or "").
-- Seconds whose list is gone (node-resque leaves such zset members) are skipped.
local out = {}
for _, ts in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", "+inf")) do
  if redis.call("LLEN", ARGV[1] .. "delayed:" .. ts) > 0 then
    out[#out + 1] = ts
  end
end
return out
