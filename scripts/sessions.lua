-- Makes sessions as fast as the app answers: every response's session
-- cookie is appended to $OUT (one "name=value" a line). Stops counting
-- nothing: the caller runs it for as long as it needs sessions.
local out = nil

function init(args)
  out = io.open(os.getenv("OUT") .. "." .. tostring(math.random(1, 1000000000)), "w")
end

response = function(status, headers, body)
  local cookie = headers["Set-Cookie"] or headers["set-cookie"]
  if cookie then
    out:write(cookie:match("^[^;]*"), "\n")
  end
end

done = function(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests":%d}\n', summary.requests))
end
