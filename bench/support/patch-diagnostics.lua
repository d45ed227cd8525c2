-- wrk script for bench/api_load.ts: PATCH .../diagnostics with a new RX power on every request,
-- so the module recomputes its raw words and alarm/warning flags each time.
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local rxPowerDbm = -25 + (n % 300) / 10
  return wrk.format(nil, nil, nil, string.format('{"rxPowerDbm": %.1f}', rxPowerDbm))
end
