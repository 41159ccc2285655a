-- hooks/model_router.lua: sends the request to its deployment.
--   1. req.ctx.route, when a hook set one (the subagent hook does): "provider/model" (a
--      deployment of that provider serving that model, or its provider/* deployment) or a
--      model_name. When config.yaml has nothing for it, a warning, then step 2.
--   2. the label: label -> config.yaml entry of that model_name (an alias) -> the deployment
--      it names. The "default" label keeps the client's model when default_model_passthrough
--      is on; a label without an entry falls back to "default".
-- The routed model goes into the upstream body.
local ccproxy = require("ccproxy")

return {
  request = function(req)
    local label = req.label or "default"
    local target = req.ctx.route
    if target ~= nil then
      if type(target) == "string" and target ~= "" then
        local d, err = req:route(target)
        if d then return end
        req:log("warn", string.format("model_router: req.ctx.route '%s' routes nowhere (%s); "
          .. "routing by the label '%s' instead", target, tostring(err), label))
      else
        req:log("warn", "model_router: req.ctx.route must be a non-empty string "
          .. "(\"provider/model\" or a model_name), not "
          .. (target == "" and "an empty string" or "a " .. type(target))
          .. "; routing by the label '" .. label .. "'")
      end
    end
    local ok, err
    if label == "default" and ccproxy.config().default_model_passthrough then
      ok, err = req:route_passthrough()
    else
      ok, err = req:route(label)
      -- A label config.yaml has no entry for goes where "default" goes.
      if not ok and label ~= "default" then ok, err = req:route("default") end
    end
    if not ok then
      req:log("warn", "model_router: " .. tostring(err))
    end
  end,
}
