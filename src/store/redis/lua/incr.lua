-- Adds to an integer field of a live session, in place and in one atomic
-- step, without touching its TTL (it keeps what the last refresh promised).
-- KEYS[1]: the session key.
-- ARGV[1]: the field. ARGV[2]: the amount, decimal, below 2^53 in magnitude.
-- ARGV[3]: how the integer is encoded: 'm' (MessagePack) or 'j' (JSON).
-- ARGV[4]: now, unix seconds. ARGV[5]: the default idle timeout (0: none).
-- ARGV[6]: the refresh divisor. ARGV[7]: the absolute lifetime (0: none).
-- Returns the sum, decimal, when stored; 0 when nothing was written: the
-- session is missing or not ours, its TTL refresh is due, its lifetime is
-- over, the field holds no integer in the format, or a number reaches 2^53
-- in magnitude (Lua's numbers are exact only below that).
local key = KEYS[1]
local meta = redis.call('HMGET', key, '\0c', '\0r', '\0t', ARGV[1])
-- '\0c' holds "created refreshed" (version 0.1: "created", with '\0r').
if not meta[1] then
  return 0
end
local created, refreshed = string.match(meta[1], '^(%d+) (%d+)$')
if not created then
  created = string.match(meta[1], '^(%d+)$')
  if not created then
    return 0
  end
end
created = tonumber(created)
refreshed = tonumber(refreshed) or 0
if meta[2] then
  local later = tonumber(meta[2])
  if not later then
    return 0
  end
  refreshed = math.max(refreshed, later)
end
local now = tonumber(ARGV[4])
local lifetime = tonumber(ARGV[7])
if lifetime > 0 and now >= created + lifetime then
  return 0
end
local timeout = tonumber(ARGV[5])
if meta[3] then
  timeout = tonumber(meta[3])
  if not timeout then
    return 0
  end
end
if timeout > 0 and (refreshed == 0
    or now >= refreshed + math.floor(timeout / tonumber(ARGV[6]))) then
  return 0
end
local limit = 9007199254740992
local json = ARGV[3] == 'j'
-- MessagePack integer markers and the length of the value they start.
local sizes = {[0xcc] = 2, [0xcd] = 3, [0xce] = 5, [0xcf] = 9,
               [0xd0] = 2, [0xd1] = 3, [0xd2] = 5, [0xd3] = 9}
local n = 0
local value = meta[4]
if value then
  if json then
    if not string.find(value, '^%-?%d+$') or string.find(value, '^%-?0%d')
        or #value > 17 then
      return 0
    end
    n = tonumber(value)
  else
    local first = string.byte(value, 1)
    if not first then
      return 0
    elseif #value == 1 and first <= 0x7f then
      n = first
    elseif #value == 1 and first >= 0xe0 then
      n = first - 256
    elseif sizes[first] == #value then
      n = cmsgpack.unpack(value)
    else
      return 0
    end
  end
  if type(n) ~= 'number' or n >= limit or n <= -limit then
    return 0
  end
end
local sum = n + tonumber(ARGV[2])
if sum >= limit or sum <= -limit then
  return 0
end
local decimal = string.format('%d', sum)
if json then
  redis.call('HSET', key, ARGV[1], decimal)
else
  redis.call('HSET', key, ARGV[1], cmsgpack.pack(sum))
end
return decimal
