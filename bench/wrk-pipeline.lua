-- wrk script: each connection sends DEPTH GETs (default 16) in one write and
-- reads the DEPTH responses, as in wrk's own scripts/pipeline.lua. wrk counts
-- every response as a request.  wrk -s bench/wrk-pipeline.lua URL -- [DEPTH]
local batch

function init(args)
  local depth = tonumber(args[1] or "16")
  local path = wrk.path
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, path)
  end
  batch = table.concat(r)
end

function request()
  return batch
end
