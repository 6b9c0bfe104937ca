-- Schedule a payload at a second, at most once per (payload, second).
-- KEYS[1] timestamps:<payload>, KEYS[2] delayed:<ts>, KEYS[3] delayed_queue_schedule
-- ARGV[1] "delayed:<ts>" (the timestamps member, no namespace), ARGV[2] payload, ARGV[3] ts
-- Returns 1 when scheduled, 0 when that payload was already scheduled at that second.
if redis.call("SISMEMBER", KEYS[1], ARGV[1]) == 1 then
  return 0
end
redis.call("RPUSH", KEYS[2], ARGV[2])
redis.call("SADD", KEYS[1], ARGV[1])
redis.call("ZADD", KEYS[3], ARGV[3], ARGV[3])
return 1
