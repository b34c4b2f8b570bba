#!lua
-- Updates a session only if it exists, and always sets its TTL, in one
-- atomic step: no update can leave a key behind that a delete removed, and
-- no key is left without its TTL.
-- KEYS[1]: the session key.
-- ARGV[1]: the idle timeout in seconds (0: none).
-- ARGV[2]: n, the number of field/value pairs to set.
-- ARGV[3]: '1' if the session must be deleted when no user field is left.
-- ARGV[4 .. 3 + 2n]: field/value pairs to set; then the fields to delete.
-- Returns 1 when stored, 0 when the session does not exist (nothing is
-- written), 2 when no user field was left and the session was deleted, 3
-- when the session moved to a new id (its old key holds the move's marker;
-- nothing is written).
local key = KEYS[1]
-- A session exists while it has its creation field.
if redis.call('HEXISTS', key, '\0c') == 0 then
  if redis.call('HEXISTS', key, '\0m') == 1 then
    return 3
  end
  return 0
end
local timeout = tonumber(ARGV[1])
if timeout > 0 then
  redis.call('EXPIRE', key, timeout)
else
  redis.call('PERSIST', key)
end
local last_set = 3 + 2 * tonumber(ARGV[2])
-- unpack() in chunks: Lua's C stack holds about 8000 values.
for i = 4, last_set, 2000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 1999, last_set)))
end
for i = last_set + 1, #ARGV, 2000 do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
if ARGV[3] == '1' then
  -- A user field is any name that does not start with exactly one NUL.
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.byte(name, 1) ~= 0 or string.byte(name, 2) == 0 then
      return 1
    end
  end
  redis.call('DEL', key)
  return 2
end
return 1
