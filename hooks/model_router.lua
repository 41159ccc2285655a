-- hooks/model_router.lua: sends the request to the deployment for its label:
-- label -> config.yaml entry of that model_name (an alias) -> the deployment it names.
-- The "default" label keeps the client's model when default_model_passthrough is on; a label
-- without an entry falls back to "default". The routed model goes into the upstream body.
local ccproxy = require("ccproxy")

return {
  request = function(req)
    local label = req.label or "default"
    local ok, err
    if label == "default" and ccproxy.config().default_model_passthrough then
      ok, err = req:route_passthrough()
    else
      ok, err = req:route(label)
    end
    if not ok then
      req:log("warn", "model_router: " .. tostring(err))
    end
  end,
}
