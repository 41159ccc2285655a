-- rules/match_model.lua: matches when the requested model contains `model_name`
-- (case-sensitive substring, as in the Python tool's MatchModelRule): "haiku" matches
-- "claude-haiku-5-5".
return {
  params = { model_name = "" },
  check = function(params)
    if params.model_name == "" then return false, "model_name is required" end
    return true
  end,
  match = function(req, params)
    local model = req.model
    return type(model) == "string" and model:find(params.model_name, 1, true) ~= nil
  end,
  -- Run by `ccproxy check`.
  examples = {
    { name = "haiku matches a haiku model", params = { model_name = "haiku" },
      body = { model = "claude-haiku-4-5", messages = { { role = "user", content = "hi" } } },
      expect = true },
    { name = "haiku does not match opus", params = { model_name = "haiku" },
      body = { model = "claude-opus-4-5", messages = { { role = "user", content = "hi" } } },
      expect = false },
    { name = "the match is case-sensitive", params = { model_name = "Haiku" },
      body = { model = "claude-haiku-4-5", messages = { { role = "user", content = "hi" } } },
      expect = false },
  },
}
