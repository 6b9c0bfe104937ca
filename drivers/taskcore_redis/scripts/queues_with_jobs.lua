-- The known queues holding at least one job: SMEMBERS, then the members' lists checked on the
-- server. Redis deletes a list when it empties, so one EXISTS over a chunk of keys skips a
-- chunk of empty queues at once; only a chunk with a key in it is checked key by key (LLEN).
-- KEYS[1] the queues set; ARGV[1] key prefix ("<ns>:" or ""); ARGV[2] up to how many known
-- queues every member is returned, empty or not (as {members, {}}).
-- Otherwise returns {found, unsure}: the members whose list "<prefix>queue:<member>" is non-empty, and
-- the members with no printable non-space ASCII character, whose key the driver names
-- differently (a blank part is skipped, as node-resque does): the caller checks those itself.
-- A key that is not a list (a foreign write) counts as empty.
local CHUNK = 128
if redis.call("SCARD", KEYS[1]) <= tonumber(ARGV[2]) then
  return {redis.call("SMEMBERS", KEYS[1]), {}}
end
local found, unsure = {}, {}
local names, keys = {}, {}

local function check()
  if #keys > 0 and redis.call("EXISTS", unpack(keys)) > 0 then
    for i, key in ipairs(keys) do
      local length = redis.pcall("LLEN", key)
      if type(length) == "number" and length > 0 then
        found[#found + 1] = names[i]
      end
    end
  end
  names, keys = {}, {}
end

for _, name in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  if not string.find(name, "[!-~]") then
    unsure[#unsure + 1] = name
  else
    names[#names + 1] = name
    keys[#keys + 1] = ARGV[1] .. "queue:" .. name
    if #keys == CHUNK then
      check()
    end
  end
end
check()
return {found, unsure}
