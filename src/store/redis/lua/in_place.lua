#!lua
-- The checks every in-place change makes first (prefixed to incr.lua and
-- append.lua): the session at KEYS[1] must exist, its metadata must be
-- numbers, and it must pass the guard the session's policy computed. The
-- script compares; it derives no policy of its own.
-- ARGV[1]: the field. ARGV[4]: sessions created at or before this time
-- (unix seconds) are past their absolute lifetime (-1: none is).
-- ARGV[5]: the largest own timeout accepted.
-- Returns nil when the change must not be made (the session is missing,
-- not ours or its metadata are not numbers, or it fails the guard); else
-- the field's value (nil when absent), the weighed size ('\0s', see
-- update.lua; nil when not weighed yet), the last refresh (0: none) and the
-- session's own timeout (-1: none), for the caller's policy to judge
-- whether the idle TTL is due for its refresh.
local function in_place(key, field)
  local meta = redis.call('HMGET', key, '\0c', '\0r', '\0t', field, '\0s')
  if not meta[1] then
    return nil
  end
  -- '\0c' holds "created refreshed" (first layout: "created", with '\0r').
  local created, refreshed = string.match(meta[1], '^(%d+) (%d+)$')
  if not created then
    created = string.match(meta[1], '^(%d+)$')
    if not created then
      return nil
    end
  end
  created = tonumber(created)
  refreshed = tonumber(refreshed) or 0
  if meta[2] then
    if not string.find(meta[2], '^%d+$') then
      return nil
    end
    refreshed = math.max(refreshed, tonumber(meta[2]))
  end
  if created <= tonumber(ARGV[4]) then
    return nil
  end
  local timeout = -1
  if meta[3] then
    if not string.find(meta[3], '^%d+$') then
      return nil
    end
    timeout = tonumber(meta[3])
    if timeout > tonumber(ARGV[5]) then
      return nil
    end
  end
  local size = nil
  if meta[5] and string.find(meta[5], '^%d+$') then
    size = tonumber(meta[5])
  end
  return {value = meta[4], size = size, refreshed = refreshed, timeout = timeout}
end
