-- One cursor page of the delayed schedule: up to ARGV[3] seconds after ARGV[2], ascending.
-- KEYS[1] delayed_queue_schedule
-- ARGV[1] key prefix ("<ns>:" or ""), ARGV[2] the exclusive lower bound ("(<ts>" or "-inf"),
-- ARGV[3] how many seconds, ARGV[4] "1" to return each second's payloads too
-- Returns {ts, ts, ...}, or with payloads {ts, {payload, ...}, ts, {...}, ...}.
-- A member that is not a whole number and a second whose
-- delayed:<ts> key is not a non-empty list are skipped; the cost follows the page, plus the
-- skipped members, never the size of the schedule.
local limit = tonumber(ARGV[3])
local with_jobs = ARGV[4] == "1"
local out = {}
local found = 0
local offset = 0
local chunk = limit
while found < limit do
  local stamps = redis.call("ZRANGEBYSCORE", KEYS[1], ARGV[2], "+inf", "LIMIT", offset, chunk)
  if #stamps == 0 then
    break
  end
  offset = offset + #stamps
  for _, ts in ipairs(stamps) do
    if found >= limit then
      break
    end
    if string.match(ts, "^%-?%d+$") then
      local list = ARGV[1] .. "delayed:" .. ts
      local length = redis.pcall("LLEN", list)
      if type(length) == "number" and length > 0 then
        found = found + 1
        out[#out + 1] = ts
        if with_jobs then
          out[#out + 1] = redis.call("LRANGE", list, 0, -1)
        end
      end
    end
  end
end
return out
