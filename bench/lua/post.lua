-- POSTs the JSON body in $BODY_FILE with the token in $TOKEN (as X-Vault-Token,
-- which both Strongroom and OpenBao accept) to the URL wrk was given.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = os.getenv("TOKEN")
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = file:read("*a")
file:close()
