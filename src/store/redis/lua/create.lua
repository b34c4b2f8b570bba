#!lua
-- Creates a session only if its key does not exist yet (one atomic step).
-- KEYS[1]: the session key. ARGV[1]: the idle timeout in seconds (0: none).
-- ARGV[2..]: field/value pairs. Returns 1 when created, 0 when the key
-- already exists (nothing is written then).
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  return 0
end
-- unpack() in chunks: Lua's C stack holds about 8000 values.
for i = 2, #ARGV, 2000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
local timeout = tonumber(ARGV[1])
if timeout > 0 then
  redis.call('EXPIRE', key, timeout)
end
return 1
