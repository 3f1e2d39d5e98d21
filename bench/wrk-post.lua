-- wrk script: every request is a POST with a body of N bytes (default
-- 10240), Content-Length framed.  wrk -s bench/wrk-post.lua URL -- [N]
local req

function init(args)
  local size = tonumber(args[1] or "10240")
  req = wrk.format("POST", wrk.path, { ["Content-Type"] = "application/octet-stream" }, string.rep("x", size))
end

function request()
  return req
end
