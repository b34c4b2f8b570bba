-- Adds to an integer field of a live session, in place and in one atomic
-- step, without touching its TTL (it keeps what the last refresh promised).
-- Runs after in_place.lua (its checks and ARGV[4..5]).
-- KEYS[1]: the session key.
-- ARGV[1]: the field. ARGV[2]: the amount, decimal, below 2^53 in magnitude.
-- ARGV[3]: how the integer is encoded: 'm' (MessagePack) or 'j' (JSON).
-- ARGV[4]: the guard's creation time (see in_place.lua). ARGV[5]: the
-- largest own timeout accepted.
-- Returns "sum refreshed timeout" when stored: the sum, the last refresh
-- and the own timeout (-1: none), decimal, one space apart, in one string
-- (one reply element to parse); the caller judges whether the idle TTL is
-- due for its refresh, and refreshes it; 0 when nothing was written: the session is
-- missing, not ours or its metadata are not numbers, it fails the guard,
-- the field is absent (a new field would grow the session unweighed) or
-- holds no integer in the format, or a number reaches 2^53 in magnitude
-- (Lua's numbers are exact only below).
local key = KEYS[1]
local session = in_place(key, ARGV[1])
if not session or not session.value then
  return 0
end
local value = session.value
local limit = 9007199254740992
local json = ARGV[3] == 'j'
local n
if json then
  -- As serde_json reads an i64: no sign but '-', no leading zeros, no '-0'.
  if not string.find(value, '^%-?%d+$') or string.find(value, '^%-?0.')
      or value == '-0' or #value > 17 then
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
  elseif ((first >= 0xcc and first <= 0xcf) or (first >= 0xd0 and first <= 0xd3))
      and #value == 1 + 2 ^ (first % 4) then
    -- A uint 64 from 2^63 is no i64 (cmsgpack would read it negative).
    if first == 0xcf and string.byte(value, 2) >= 0x80 then
      return 0
    end
    n = cmsgpack.unpack(value)
  else
    return 0
  end
end
if type(n) ~= 'number' or n >= limit or n <= -limit then
  return 0
end
local sum = n + tonumber(ARGV[2])
if sum >= limit or sum <= -limit then
  return 0
end
local decimal = string.format('%d', sum)
local new
if json then
  new = decimal
elseif sum >= 0 and sum < 128 then
  new = string.char(sum)
else
  new = cmsgpack.pack(sum)
end
if session.size then
  -- The weighed size ('\0s', see update.lua) follows the value's length.
  local size = string.format('%d', session.size + #new - #value)
  redis.call('HSET', key, ARGV[1], new, '\0s', size)
else
  redis.call('HSET', key, ARGV[1], new)
end
return decimal .. string.format(' %d %d', session.refreshed, session.timeout)
