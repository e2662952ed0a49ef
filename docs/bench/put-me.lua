-- wrk script: PUT /v3.0/me with a session body (headers come from -H).
wrk.method = "PUT"
wrk.body = '{"platform":"bench","deviceId":"bench-device"}'
wrk.headers["Content-Type"] = "application/json"
