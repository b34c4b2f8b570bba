#!lua
-- Retires a session that moved to a new id where the move cannot be one
-- atomic step (on a Cluster the new key lives elsewhere): deletes it and,
-- if it existed, leaves the move's marker for 300 s (MOVED_GRACE), so that a
-- request that loaded it before and writes to it later learns that it
-- moved. KEYS[1]: the session key. Returns 1 when retired, 0 when it was
-- already gone.
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], '\0m', '1')
redis.call('EXPIRE', KEYS[1], 300)
return 1
