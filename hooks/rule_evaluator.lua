-- hooks/rule_evaluator.lua: labels the request with the first rule of ccproxy.yaml that
-- matches (in config order); no match gives the label "default".
local ccproxy = require("ccproxy")

return {
  request = function(req)
    local label, rule = ccproxy.classify(req)
    req.label = label
    req.rule = rule
  end,
}
