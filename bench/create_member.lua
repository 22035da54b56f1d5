-- wrk script: POST a new MX Bank member with a unique password per request (skip_aggregation,
-- unless FERRY_SKIP_AGGREGATION=false: then each member is written with its first job).
-- Expects the environment variables FERRY_AUTH (base64 client_id:api_key) and FERRY_USER.
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/vnd.mx.api.v1+json"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("FERRY_AUTH")
  path = "/users/" .. os.getenv("FERRY_USER") .. "/members"
  skip = os.getenv("FERRY_SKIP_AGGREGATION") or "true"
  -- Several wrk processes at once (one per node) keep their passwords apart with a tag.
  tag = os.getenv("FERRY_BENCH_TAG") or ""
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"member":{"institution_code":"mxbank","skip_aggregation":' .. skip .. ',"credentials":[' ..
    '{"guid":"CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1","value":"mxuser"},' ..
    '{"guid":"CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d","value":"bench-%s%s-%d-%d"}]}}', tag, skip, tid, counter)
  return wrk.format(nil, path, nil, body)
end

local non2xx = 0
function response(status, headers, body)
  if status ~= 200 and status ~= 202 then non2xx = non2xx + 1 end
end
