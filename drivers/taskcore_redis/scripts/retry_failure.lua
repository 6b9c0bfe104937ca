-- Take a failure record off the failed list and enqueue its job again, atomically.
-- KEYS[1] failed, KEYS[2] the queues set, KEYS[3] the queue list
-- ARGV[1] the record (byte-exact), ARGV[2] queue name, ARGV[3] payload, ARGV[4] the channel,
-- ARGV[5] "SPUBLISH" to publish on the shard channel (Redis Cluster), else PUBLISH
-- Returns 1 when the record was found and the job pushed, 0 (writing nothing) otherwise.
if redis.call("LREM", KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call("SADD", KEYS[2], ARGV[2])
redis.call("RPUSH", KEYS[3], ARGV[3])
redis.call(ARGV[5] == "SPUBLISH" and "SPUBLISH" or "PUBLISH", ARGV[4], ARGV[2])
return 1
