-- Every second that holds at least one delayed job, ascending by score (numeric order).
-- KEYS[1] delayed_queue_schedule; ARGV[1] key prefix ("<ns>:" or "").
-- Seconds whose list is gone (node-resque leaves such zset members) are skipped, and so are
-- members that are not a whole number and ones whose delayed:<ts> key is not a list.
local out = {}
for _, ts in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", "+inf")) do
  if string.match(ts, "^%-?%d+$") then
    local length = redis.pcall("LLEN", ARGV[1] .. "delayed:" .. ts)
    if type(length) == "number" and length > 0 then
      out[#out + 1] = ts
    end
  end
end
return out
