-- Applies one session write atomically, in one round trip.
-- KEYS[1]: the session key.
-- ARGV[1]: "create" (only if the key is absent) or "update" (only if present).
-- ARGV[2]: the default timeout in seconds (0: none).
-- ARGV[3]: n, the number of fields to set; then n field/value pairs;
-- then the fields to delete.
-- Returns 1 written, 0 key missing (update), -1 key exists (create),
-- 2 emptied (no user field left, so the key was deleted).
local key = KEYS[1]
local exists = redis.call('EXISTS', key)
if ARGV[1] == 'update' and exists == 0 then
  return 0
end
if ARGV[1] == 'create' and exists == 1 then
  return -1
end
-- unpack() in chunks: Lua's C stack holds about 8000 values.
local n = tonumber(ARGV[3])
local last_set = 3 + 2 * n
for i = 4, last_set, 2000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 1999, last_set)))
end
for i = last_set + 1, #ARGV, 2000 do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
-- Metadata fields start with one NUL byte; user fields never do (an escaped
-- user field starts with two, see store/mod.rs). Setting a user field means
-- the session cannot be empty; otherwise count what is left.
local user_set = false
for i = 4, last_set, 2 do
  local b1, b2 = string.byte(ARGV[i], 1, 2)
  if b1 ~= 0 or b2 == 0 then
    user_set = true
    break
  end
end
if not user_set then
  local meta = redis.call('HEXISTS', key, '\0c') + redis.call('HEXISTS', key, '\0t')
  if redis.call('HLEN', key) <= meta then
    redis.call('DEL', key)
    return 2
  end
end
local timeout = tonumber(redis.call('HGET', key, '\0t') or ARGV[2]) or tonumber(ARGV[2])
if timeout > 0 then
  redis.call('EXPIRE', key, timeout)
else
  redis.call('PERSIST', key)
end
return 1
