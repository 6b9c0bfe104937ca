-- Enqueue a batch of jobs at the tails of their queues, all or nothing, and wake the workers
-- watching those queues (one PUBLISH per distinct queue).
-- KEYS[1] the queues set, KEYS[1 + i] job i's queue list (a queue's key repeats per job)
-- ARGV[1] the pushed channel, ARGV[2] "SPUBLISH" to publish on the shard channel (Redis
-- Cluster), else PUBLISH; for job i, ARGV[2i + 1] its queue name, ARGV[2i + 2] its payload
-- Returns the number of jobs pushed. Every key is checked before anything is written: one
-- that holds another type (written by something else) fails the batch, writing nothing.
local checked = {}
for i = 1, #KEYS do
  if not checked[KEYS[i]] then
    checked[KEYS[i]] = true
    local kind = redis.call("TYPE", KEYS[i])["ok"]
    local wanted = i == 1 and "set" or "list"
    if kind ~= wanted and kind ~= "none" then
      return redis.error_reply("WRONGTYPE " .. KEYS[i] .. " holds a " .. kind .. ", not a " ..
        wanted .. "; nothing of the batch was enqueued")
    end
  end
end
local woken, order = {}, {}
for i = 1, #KEYS - 1 do
  local queue = ARGV[2 * i + 1]
  redis.call("RPUSH", KEYS[i + 1], ARGV[2 * i + 2])
  if not woken[queue] then
    woken[queue] = true
    order[#order + 1] = queue
  end
end
for _, queue in ipairs(order) do
  redis.call("SADD", KEYS[1], queue)
end
local publish = ARGV[2] == "SPUBLISH" and "SPUBLISH" or "PUBLISH"
for _, queue in ipairs(order) do
  redis.call(publish, ARGV[1], queue)
end
return #KEYS - 1
