-- wrk script: POST /v3/users/{uid}/auth_tokens, rotating over the users that
-- `callgate bench` creates (bench-user-0 … bench-user-999), like its login
-- scenario. appId and apiKey come from -H (wrk.headers).
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
local n, i = 1000, 0
request = function()
  i = (i + 1) % n
  return wrk.format(nil, "/v3/users/bench-user-" .. i .. "/auth_tokens")
end
