-- Sends $METHOD (default GET) with `Authorization: Bearer $TOKEN` and, when
-- $BODY_FILE is set, that JSON body, to the URL wrk was given.
wrk.method = os.getenv("METHOD") or "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local path = os.getenv("BODY_FILE")
if path and path ~= "" then
    wrk.headers["Content-Type"] = "application/json"
    local file = assert(io.open(path, "rb"))
    wrk.body = file:read("*a")
    file:close()
end
