-- Reset a lock's TTL only while it holds the caller's value.
-- KEYS[1] the lock; ARGV[1] the expected value, ARGV[2] TTL in seconds. Returns 1 or 0.
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("EXPIRE", KEYS[1], ARGV[2])
end
return 0
