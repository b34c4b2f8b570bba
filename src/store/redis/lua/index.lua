#!lua
-- The per-user session index: one hash, member (a session key) -> entry.
-- A live entry is "expires created last_seen" or "expires created
-- last_seen agent"; a removed member is "- until". Times are unix seconds
-- below 2^53 (exact as Lua numbers); 0 means never. Every operation prunes
-- what has expired and sets the key's TTL to its latest time, so the index
-- never outlives its longest entry and always has a TTL (unless an entry
-- never expires).
-- KEYS[1]: the index key. ARGV[1]: 'put', 'list' or 'remove'.
--   put    member expires created last_seen agent ('' for none) -> 1
--   list   now                                 -> member, entry, ... (live)
--   remove until member...                     -> 1
local key = KEYS[1]
local op = ARGV[1]

-- The time until which an entry is kept, as a number and as its text.
local function until_of(value)
  local text = string.match(value, '^%- (%d+)$') or string.match(value, '^(%d+) ')
  if text == nil then
    return nil, nil
  end
  return tonumber(text), text
end

local function later(a, a_text, b, b_text)
  if a == 0 or b == 0 then
    return 0, '0'
  end
  if b > a then
    return b, b_text
  end
  return a, a_text
end

-- Drops entries kept until <= now (now = 0 prunes nothing), sets the TTL
-- and returns the remaining [member, value] pairs.
local function prune(now)
  local all = redis.call('HGETALL', key)
  local kept, dead = {}, {}
  local latest, latest_text = nil, nil
  for i = 1, #all, 2 do
    local t, text = until_of(all[i + 1])
    -- An unreadable entry is dropped: it must not keep the index alive.
    if t == nil or (t ~= 0 and t <= now) then
      dead[#dead + 1] = all[i]
    else
      kept[#kept + 1] = all[i]
      kept[#kept + 1] = all[i + 1]
      if latest == nil then
        latest, latest_text = t, text
      else
        latest, latest_text = later(latest, latest_text, t, text)
      end
    end
  end
  for i = 1, #dead, 2000 do
    redis.call('HDEL', key, unpack(dead, i, math.min(i + 1999, #dead)))
  end
  if latest ~= nil then
    if latest == 0 then
      redis.call('PERSIST', key)
    else
      redis.call('EXPIREAT', key, latest_text)
    end
  end
  return kept
end

if op == 'put' then
  local member, expires, created, seen, agent = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local old = redis.call('HGET', key, member)
  local write = true
  if old then
    if string.sub(old, 1, 2) == '- ' then
      write = false
    else
      local oe, oc, os, oa = string.match(old, '^(%d+) (%d+) (%d+) ?(.*)$')
      if oe ~= nil then
        local newer = tonumber(seen) > tonumber(os)
          or (tonumber(seen) == tonumber(os) and tonumber(expires) > tonumber(oe))
        if not newer then
          expires, seen = oe, os
          if oa ~= '' then
            agent = oa
          end
        elseif agent == '' then
          agent = oa
        end
        if tonumber(created) == 0 or (tonumber(oc) ~= 0 and tonumber(oc) < tonumber(created)) then
          created = oc
        end
      end
    end
  end
  if write then
    local value = expires .. ' ' .. created .. ' ' .. seen
    if agent ~= '' then
      value = value .. ' ' .. agent
    end
    redis.call('HSET', key, member, value)
  end
  prune(tonumber(ARGV[5]))
  return 1
elseif op == 'list' then
  local kept = prune(tonumber(ARGV[2]))
  local live = {}
  for i = 1, #kept, 2 do
    if string.sub(kept[i + 1], 1, 2) ~= '- ' then
      live[#live + 1] = kept[i]
      live[#live + 1] = kept[i + 1]
    end
  end
  return live
elseif op == 'remove' then
  local keep, keep_text = tonumber(ARGV[2]), ARGV[2]
  for i = 3, #ARGV do
    local t, text = keep, keep_text
    local old = redis.call('HGET', key, ARGV[i])
    if old then
      local ot, otext = until_of(old)
      if ot ~= nil then
        t, text = later(t, text, ot, otext)
      end
    end
    redis.call('HSET', key, ARGV[i], '- ' .. text)
  end
  prune(0)
  return 1
end
return redis.error_reply('unknown index operation')
