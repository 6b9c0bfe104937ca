-- The Retry plugin's attempt counter: SETNX -1, INCR, EXPIRE (an absent counter reads -1, so
-- the first call returns 0). KEYS[1] the counter; ARGV[1] TTL in seconds. Returns the count.
redis.call("SETNX", KEYS[1], -1)
local count = redis.call("INCR", KEYS[1])
redis.call("EXPIRE", KEYS[1], ARGV[1])
return count
