#!lua
-- Moves a session to a new key in one atomic step (regenerate, login): only
-- if the old key still exists (a session revoked or logged out meanwhile is
-- never carried over), and only if the new key is free.
-- KEYS[1]: the old key. KEYS[2]: the new key. ARGV[1]: the idle timeout in
-- seconds (0: none). ARGV[2..]: field/value pairs of the new session.
-- Returns 1 when moved, 0 when the old key is gone, -1 when the new key is
-- taken (nothing is written in either case).
if redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
-- A marker for 300 s (MOVED_GRACE): a request that loaded the old session
-- and writes to it later learns that it moved, instead of losing its write.
redis.call('HSET', KEYS[1], '\0m', '1')
redis.call('EXPIRE', KEYS[1], 300)
for i = 2, #ARGV, 2000 do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
local timeout = tonumber(ARGV[1])
if timeout > 0 then
  redis.call('EXPIRE', KEYS[2], timeout)
end
return 1
