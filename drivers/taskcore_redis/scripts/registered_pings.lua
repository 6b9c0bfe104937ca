-- The heartbeat of every registered worker name, read through the workers set (never a
-- keyspace SCAN): the cost follows the number of workers.
-- KEYS[1] the workers set; ARGV[1] key prefix ("<ns>:" or "").
-- Returns {name, ping record, name, ping record, ...}, one pair per distinct name that has a
-- ping; a ping key holding another type than a string is left out (as MGET reads it).
-- A member's name is split as WorkerId.parse does: no ":" the whole member; one ":" the part
-- before it; more, the first two parts (host:pid).
local function name_of(member)
  local first = string.find(member, ":", 1, true)
  if not first then
    return member
  end
  local second = string.find(member, ":", first + 1, true)
  if not second then
    return string.sub(member, 1, first - 1)
  end
  return string.sub(member, 1, second - 1)
end

local seen, out = {}, {}
for _, member in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  local name = name_of(member)
  if not seen[name] then
    seen[name] = true
    local ping = redis.pcall("GET", ARGV[1] .. "worker:ping:" .. name)
    if type(ping) == "string" then
      out[#out + 1] = name
      out[#out + 1] = ping
    end
  end
end
return out
