-- ccproxy: the module rules and hooks use (`local ccproxy = require("ccproxy")`).
-- ccproxy.json      JSON encode/decode with null, array and object markers (C, cJSON)
-- ccproxy.log       write a line to the proxy log
-- ccproxy.config()  the settings of ccproxy.yaml that scripts may read
-- ccproxy.classify  run the configured rules on a request: label, rule name
-- ccproxy.version   the proxy's version
local core = require("ccproxy.core")
local runtime = require("ccproxy.runtime")

local M = {
  json = core.json,
  version = core.version,
}

-- Writes `msg` to the proxy log at `level` ("debug", "info", "warn" or "error").
function M.log(level, msg)
  core.log(level, tostring(msg))
end

-- A copy of the settings scripts may read: debug, default_model_passthrough, config_dir,
-- oat_sources (provider -> {command, user_agent}); nil fields when not loaded.
function M.config()
  local spec = runtime.spec() or {}
  local oat = {}
  for provider, src in pairs(spec.oat_sources or {}) do
    oat[provider] = { command = src.command, user_agent = src.user_agent }
  end
  return {
    debug = spec.debug or false,
    default_model_passthrough = spec.default_model_passthrough ~= false,
    config_dir = spec.config_dir,
    oat_sources = oat,
  }
end

-- Runs the rules of ccproxy.yaml in order on `req`; returns the label ("default" when none
-- matched) and the name of the rule that matched (nil when none).
function M.classify(req)
  return runtime.classify(req)
end

return M
