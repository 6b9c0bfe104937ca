-- Every registered worker with its current-job record, read at one instant.
-- KEYS[1] the workers set; ARGV[1] key prefix ("<ns>:" or "").
-- Returns a flat list {member, record or false, member, record or false, ...}; a record key
-- holding another type than a string reads as false (as MGET reads it), never an error.
local out = {}
for _, member in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  local record = redis.pcall("GET", ARGV[1] .. "worker:" .. member)
  if type(record) == "table" then
    record = false
  end
  out[#out + 1] = member
  out[#out + 1] = record
end
return out
