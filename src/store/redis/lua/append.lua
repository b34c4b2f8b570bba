-- Appends one encoded element to the list in a field of a live session, in
-- place and in one atomic step, without touching its TTL: concurrent
-- appends (flash messages) all land.
-- Runs after in_place.lua (its checks and ARGV[4..5]).
-- KEYS[1]: the session key.
-- ARGV[1]: the field. ARGV[2]: the element, encoded.
-- ARGV[3]: how the list is encoded: 'm' (MessagePack) or 'j' (JSON).
-- ARGV[4]: the guard's creation time (see in_place.lua). ARGV[5]: the
-- largest own timeout accepted. ARGV[6]: max_session_bytes.
-- Returns {the field's new value; the last refresh; the own timeout (-1:
-- none)} when stored (the caller judges whether the idle TTL is due for
-- its refresh); 0 when nothing was written: the session is missing or its
-- metadata are not numbers, it fails the guard, or the field holds no list
-- in the format; -1 when the session's keys and values would take more
-- than max_session_bytes (nothing is written).
local key, field, element = KEYS[1], ARGV[1], ARGV[2]
local session = in_place(key, field)
if not session then
  return 0
end
local old = session.value
local value
if ARGV[3] == 'j' then
  if not old or old == '[]' then
    value = '[' .. element .. ']'
  elseif string.sub(old, 1, 1) == '[' and string.sub(old, -1) == ']' then
    value = string.sub(old, 1, -2) .. ',' .. element .. ']'
  else
    return 0
  end
else
  -- A MessagePack array: fixarray, array 16 or array 32, then its items.
  local n, body = 0, ''
  if old then
    local first = string.byte(old, 1) or 0
    if first >= 0x90 and first <= 0x9f then
      n, body = first - 0x90, string.sub(old, 2)
    elseif first == 0xdc and #old >= 3 then
      n, body = string.byte(old, 2) * 256 + string.byte(old, 3), string.sub(old, 4)
    elseif first == 0xdd and #old >= 5 then
      local a, b, c, d = string.byte(old, 2, 5)
      n, body = ((a * 256 + b) * 256 + c) * 256 + d, string.sub(old, 6)
    else
      return 0
    end
  end
  n = n + 1
  local header
  if n <= 15 then
    header = string.char(0x90 + n)
  elseif n < 65536 then
    header = string.char(0xdc, math.floor(n / 256), n % 256)
  else
    header = string.char(0xdd, math.floor(n / 16777216) % 256,
      math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  end
  value = header .. body .. element
end
-- The session's user fields (any name but one starting with exactly one
-- NUL), weighed as they would be with the new value: from the weighed size
-- ('\0s', see update.lua), or else counted once.
local size
if session.size then
  size = session.size + #value
  if old then
    size = size - #old
  else
    size = size + #field
  end
else
  size = #field + #value
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local name = all[i]
    if name ~= field and (string.byte(name, 1) ~= 0 or string.byte(name, 2) == 0) then
      size = size + #name + #all[i + 1]
    end
  end
end
if size > tonumber(ARGV[6]) then
  return -1
end
redis.call('HSET', key, field, value, '\0s', string.format('%d', size))
return {value, session.refreshed, session.timeout}
