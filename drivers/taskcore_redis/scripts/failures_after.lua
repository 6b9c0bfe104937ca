-- A page of the failed list after a cursor: the walk of Backend.failures_after.
-- KEYS[1] the failed list
-- ARGV[1] the position after the previous page (0 at the start), ARGV[2] the page size,
-- ARGV[3 ..] the last records of the previous page (up to 5), in list order (none at start)
-- Returns {position after this page, {records...}}.
--
-- The list only grows at its tail (RPUSH) and loses records anywhere (LREM), so a record that
-- stays can only move towards the head. The walk resumes right after the last record of the
-- previous page still in the list, looked for from its old position backwards (one compare
-- when nothing moved; at most 10,000 records back). When none of them is left (all removed
-- meanwhile) it resumes where they were, less their number.

local failed = KEYS[1]
local pos = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local anchors_count = #ARGV - 2
if anchors_count > 0 then
  local anchors = {}
  for i = 3, #ARGV do
    anchors[ARGV[i]] = true
  end
  local hi = math.min(pos, redis.call("LLEN", failed)) - 1
  local floor = math.max(0, hi - anchors_count - 10000)
  local resume = nil
  while hi >= floor and resume == nil do
    local lo = math.max(floor, hi - 99)
    local chunk = redis.call("LRANGE", failed, lo, hi)
    for j = #chunk, 1, -1 do
      if anchors[chunk[j]] then
        resume = lo + j
        break
      end
    end
    hi = lo - 1
  end
  pos = resume or math.max(0, pos - anchors_count)
end
local page = redis.call("LRANGE", failed, pos, pos + limit - 1)
return {pos + #page, page}
