-- wrk script: POST /v3/users/{uid}/auth_tokens (headers come from -H).
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
