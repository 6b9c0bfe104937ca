-- Enqueue one job and wake the workers watching its queue.
-- KEYS[1] the queues set, KEYS[2] the queue list
-- ARGV[1] queue name, ARGV[2] payload, ARGV[3] "1" to push at the head, ARGV[4] the channel,
-- ARGV[5] "SPUBLISH" to publish on the shard channel (Redis Cluster), else PUBLISH
redis.call("SADD", KEYS[1], ARGV[1])
if ARGV[3] == "1" then
  redis.call("LPUSH", KEYS[2], ARGV[2])
else
  redis.call("RPUSH", KEYS[2], ARGV[2])
end
redis.call(ARGV[5] == "SPUBLISH" and "SPUBLISH" or "PUBLISH", ARGV[4], ARGV[1])
return 1
