-- rules/token_count.lua: matches when the request's input tokens (messages, system and tools,
-- estimated in C) are more than `threshold`. A cheap bound skips the count when the body is
-- too small to reach the threshold.
return {
  params = { threshold = 60000 },
  check = function(params)
    if params.threshold < 0 then return false, "threshold must be >= 0" end
    return true
  end,
  match = function(req, params)
    return req:tokens_over(params.threshold)
  end,
}
