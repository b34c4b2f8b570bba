-- Fetches a whole session and refreshes its idle TTL, in one round trip.
-- KEYS[1]: the session key. ARGV[1]: the default timeout in seconds (0: none).
-- The per-session timeout, when adjusted, is the field "\0t".
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
  return fields
end
local timeout = tonumber(ARGV[1])
for i = 1, #fields, 2 do
  if fields[i] == '\0t' then
    timeout = tonumber(fields[i + 1]) or timeout
    break
  end
end
if timeout > 0 then
  redis.call('EXPIRE', KEYS[1], timeout)
else
  redis.call('PERSIST', KEYS[1])
end
return fields
