#!lua
-- The checks every in-place change makes first (prefixed to incr.lua and
-- append.lua): the session at KEYS[1] must exist and be whole enough.
-- ARGV[1]: the field. ARGV[4]: now, unix seconds. ARGV[5]: the default
-- idle timeout (0: none). ARGV[6]: the refresh divisor. ARGV[7]: the
-- absolute lifetime (0: none). ARGV[8]: the largest timeout accepted.
-- Returns nil when the change must not be made (the session is missing,
-- not ours or its metadata are not numbers, or its lifetime is over); else
-- the field's value (nil when absent), the weighed size ('\0s', see
-- update.lua; nil when not weighed yet) and whether the idle TTL is due for
-- its refresh.
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
  local now = tonumber(ARGV[4])
  local lifetime = tonumber(ARGV[7])
  if lifetime > 0 and now >= created + lifetime then
    return nil
  end
  local timeout = tonumber(ARGV[5])
  if meta[3] then
    if not string.find(meta[3], '^%d+$') then
      return nil
    end
    timeout = tonumber(meta[3])
    if timeout > tonumber(ARGV[8]) then
      return nil
    end
  end
  local size = nil
  if meta[5] and string.find(meta[5], '^%d+$') then
    size = tonumber(meta[5])
  end
  local due = timeout > 0 and (refreshed == 0
      or now >= refreshed + math.floor(timeout / tonumber(ARGV[6])))
  return {value = meta[4], size = size, due = due}
end
