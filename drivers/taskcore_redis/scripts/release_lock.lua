-- Delete a lock, only if it holds ARGV[2] when ARGV[1] == "1".
-- KEYS[1] the lock. Returns 1 when deleted, 0 otherwise.
if ARGV[1] == "1" and redis.call("GET", KEYS[1]) ~= ARGV[2] then
  return 0
end
return redis.call("DEL", KEYS[1])
