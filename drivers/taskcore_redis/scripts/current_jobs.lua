-- Every registered worker with its current-job record, read at one instant.
-- KEYS[1] the workers set; ARGV[1] key prefix ("<ns>:" or "").
-- Returns a flat list {member, record or false, member, record or false, ...}.
local out = {}
for _, member in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  out[#out + 1] = member
  out[#out + 1] = redis.call("GET", ARGV[1] .. "worker:" .. member)
end
return out
