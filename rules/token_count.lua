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
  -- Run by `ccproxy check`.
  examples = {
    { name = "a short prompt stays under the default threshold",
      body = { model = "claude-sonnet-4-5", messages = { { role = "user", content = "hi" } } },
      expect = false },
    { name = "a long prompt passes a low threshold", params = { threshold = 100 },
      body = { model = "claude-sonnet-4-5",
               messages = { { role = "user", content = string.rep("lorem ipsum dolor ", 200) } } },
      expect = true },
  },
}
