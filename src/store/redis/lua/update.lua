#!lua
-- Updates a session only if it exists, and always sets its TTL, in one
-- atomic step: no update can leave a key behind that a delete removed, and
-- no key is left without its TTL. The session's size is weighed here, so
-- that concurrent writers cannot exceed max_session_bytes together.
-- KEYS[1]: the session key.
-- ARGV[1]: the idle timeout in seconds (0: none).
-- ARGV[2]: n, the number of field/value pairs to set.
-- ARGV[3]: '1' if the session must be deleted when no user field is left.
-- ARGV[4]: the most bytes the session's user fields (names and values) may
-- take (0: not weighed).
-- ARGV[5 .. 4 + 2n]: field/value pairs to set; then the fields to delete.
-- Returns 1 when stored, 0 when the session does not exist (nothing is
-- written), 2 when no user field was left and the session was deleted, 3
-- when the session moved to a new id (its old key holds the move's marker;
-- nothing is written), 4 when the session would grow past ARGV[4] (nothing
-- is written).
-- '\0s' keeps the size of the user fields once it was weighed; every
-- in-place change keeps it exact.
local key = KEYS[1]
-- A session exists while it has its creation field.
if redis.call('HEXISTS', key, '\0c') == 0 then
  if redis.call('HEXISTS', key, '\0m') == 1 then
    return 3
  end
  return 0
end
-- A user field is any name that does not start with exactly one NUL.
local function is_user(name)
  return string.byte(name, 1) ~= 0 or string.byte(name, 2) == 0
end
local max = tonumber(ARGV[4])
local last_set = 4 + 2 * tonumber(ARGV[2])
local size = nil
if max == 0 then
  -- Not weighed: a weighed size would no longer be exact.
  redis.call('HDEL', key, '\0s')
else
  local delta = 0
  for i = 5, last_set, 2 do
    if is_user(ARGV[i]) then
      local old = redis.call('HSTRLEN', key, ARGV[i])
      if old > 0 then
        delta = delta + #ARGV[i + 1] - old
      else
        delta = delta + #ARGV[i] + #ARGV[i + 1]
      end
    end
  end
  for i = last_set + 1, #ARGV do
    if is_user(ARGV[i]) then
      local old = redis.call('HSTRLEN', key, ARGV[i])
      if old > 0 then
        delta = delta - #ARGV[i] - old
      end
    end
  end
  -- A change that keeps the size needs no weighing.
  if delta ~= 0 then
    size = tonumber(redis.call('HGET', key, '\0s'))
  end
  if size == nil and delta > 0 then
    -- Not weighed yet (a session of an earlier build): once.
    size = 0
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      if is_user(all[i]) then
        size = size + #all[i] + #all[i + 1]
      end
    end
  end
  if size ~= nil then
    size = math.max(size + delta, 0)
    if delta > 0 and size > max then
      return 4
    end
  end
end
local timeout = tonumber(ARGV[1])
if timeout > 0 then
  redis.call('EXPIRE', key, timeout)
else
  redis.call('PERSIST', key)
end
-- The size rides along with the first chunk of fields.
local first = 5
if size ~= nil then
  local upto = math.min(5 + 1997, last_set)
  redis.call('HSET', key, '\0s', string.format('%d', size), unpack(ARGV, 5, upto))
  first = upto + 1
end
-- unpack() in chunks: Lua's C stack holds about 8000 values.
for i = first, last_set, 2000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 1999, last_set)))
end
for i = last_set + 1, #ARGV, 2000 do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
if ARGV[3] == '1' then
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if is_user(name) then
      return 1
    end
  end
  redis.call('DEL', key)
  return 2
end
return 1
