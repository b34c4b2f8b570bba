#!lua
-- The per-user session index, in two keys of one slot: a sorted set
-- (KEYS[1]) of members (session keys) scored by when they end, and a hash
-- (KEYS[2]) of each live member's "created last_seen[ agent]". A live
-- member's score is its expiry (NEVER when it never expires); a removed
-- member stays as a tombstone scored minus the time until which it stays
-- removed (-NEVER: forever), so a late put cannot bring it back. Times are
-- unix seconds below 2^53 (exact as Lua numbers); 0 means never.
-- Every operation costs O(log n) plus what it prunes: what has ended is a
-- score range, so pruning never scans the index, and the keys' TTL is the
-- latest time either holds (no TTL if that is never).
-- ARGV[1]: 'put', 'list' or 'remove'.
--   put    member expires created last_seen agent ('' for none) cap
--          -> the members revoked to keep at most cap live (0: no cap): those
--          that end first, never this member
--   list   now limit -> member, "expires created last_seen[ agent]", ...
--          (the live ones ending last, at most limit)
--   remove until member... -> 1
local zset, hash = KEYS[1], KEYS[2]
local op = ARGV[1]
local NEVER = 9007199254740991

local function score_of(t)
  if t == 0 then
    return NEVER
  end
  return t
end

-- Drops what ended at or before now (now = 0 drops nothing).
local function drop_ended(now)
  if now > 0 then
    local dead = redis.call('ZRANGEBYSCORE', zset, -now, now)
    for i = 1, #dead, 2000 do
      redis.call('HDEL', hash, unpack(dead, i, math.min(i + 1999, #dead)))
    end
    redis.call('ZREMRANGEBYSCORE', zset, -now, now)
  end
end

-- Keeps at most 1000 tombstones (the ones that end last): a tombstone only
-- stops a late put from listing a session that is gone, and a listing
-- drops such an entry anyway, so a flood of revocations cannot grow the
-- index.
local function trim_tombstones()
  local dead = redis.call('ZCOUNT', zset, '-inf', '(0')
  if dead > 1000 then
    redis.call('ZREMRANGEBYRANK', zset, 1000, dead - 1)
  end
end

-- Sets both keys' TTL to the latest time they hold.
local function set_ttl()
  local high = redis.call('ZRANGE', zset, -1, -1, 'WITHSCORES')[2]
  local low = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2]
  if high == nil then
    return
  end
  local latest = 0
  if tonumber(high) > 0 then
    latest = tonumber(high)
  end
  if tonumber(low) < 0 then
    latest = math.max(latest, -tonumber(low))
  end
  if latest >= NEVER then
    redis.call('PERSIST', zset)
    redis.call('PERSIST', hash)
  else
    redis.call('EXPIREAT', zset, string.format('%d', latest))
    redis.call('EXPIREAT', hash, string.format('%d', latest))
  end
end

if op == 'put' then
  local member, created, seen, agent = ARGV[2], ARGV[4], ARGV[5], ARGV[6]
  drop_ended(tonumber(seen))
  local expires = score_of(tonumber(ARGV[3]))
  local old = redis.call('ZSCORE', zset, member)
  local write = true
  if old then
    old = tonumber(old)
    if old < 0 then
      write = false
    else
      local details = redis.call('HGET', hash, member)
      local oc, os, oa = nil, nil, ''
      if details then
        oc, os, oa = string.match(details, '^(%d+) (%d+) ?(.*)$')
      end
      if oc ~= nil then
        local newer = tonumber(seen) > tonumber(os)
          or (tonumber(seen) == tonumber(os) and expires > old)
        if not newer then
          expires, seen = old, os
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
  if write and expires <= tonumber(seen) then
    -- Ended as of its own observation: nothing to list.
    redis.call('ZREM', zset, member)
    redis.call('HDEL', hash, member)
  elseif write then
    local value = created .. ' ' .. seen
    if agent ~= '' then
      value = value .. ' ' .. agent
    end
    redis.call('ZADD', zset, expires, member)
    redis.call('HSET', hash, member, value)
  end
  local cap = tonumber(ARGV[7])
  local revoked = {}
  if cap > 0 then
    local live = redis.call('ZCOUNT', zset, '(0', '+inf')
    if live > cap then
      -- The sessions that end first go (the least recently refreshed),
      -- never the one just put. Each stays a tombstone until it would
      -- have ended.
      local ended = redis.call('ZRANGEBYSCORE', zset, '(0', '+inf', 'WITHSCORES',
        'LIMIT', 0, live - cap + 1)
      for i = 1, #ended, 2 do
        if ended[i] ~= member and #revoked < live - cap then
          revoked[#revoked + 1] = ended[i]
          redis.call('ZADD', zset, -tonumber(ended[i + 1]), ended[i])
          redis.call('HDEL', hash, ended[i])
        end
      end
    end
  end
  trim_tombstones()
  set_ttl()
  return revoked
elseif op == 'list' then
  drop_ended(tonumber(ARGV[2]))
  set_ttl()
  local live = redis.call('ZREVRANGEBYSCORE', zset, '+inf', '(0', 'WITHSCORES',
    'LIMIT', 0, tonumber(ARGV[3]))
  local out = {}
  if #live == 0 then
    return out
  end
  local members = {}
  for i = 1, #live, 2 do
    members[#members + 1] = live[i]
  end
  local details = redis.call('HMGET', hash, unpack(members))
  for i = 1, #members do
    local expires = tonumber(live[2 * i])
    if expires >= NEVER then
      expires = 0
    end
    out[#out + 1] = members[i]
    out[#out + 1] = string.format('%d', expires) .. ' ' .. (details[i] or '0 0')
  end
  return out
elseif op == 'remove' then
  local keep = score_of(tonumber(ARGV[2]))
  for i = 3, #ARGV do
    local t = keep
    local old = redis.call('ZSCORE', zset, ARGV[i])
    if old then
      t = math.max(t, math.abs(tonumber(old)))
    end
    redis.call('ZADD', zset, -t, ARGV[i])
    redis.call('HDEL', hash, ARGV[i])
  end
  trim_tombstones()
  set_ttl()
  return 1
end
return redis.error_reply('unknown index operation')
