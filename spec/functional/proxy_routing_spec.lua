-- spec/functional/proxy_routing_spec.lua: each built-in rule labels a crafted request in the
-- real pipeline (rule_evaluator + model_router), and the label's alias sends it to its own
-- deployment: the mock must see that deployment's model, and the response carries the label.
local H = require("proxy_harness")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  rules:
    - name: background
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: haiku
    - name: tokens
      rule: ccproxy.rules.TokenCountRule
      params:
        - threshold: 20000
    - name: think
      rule: ccproxy.rules.ThinkingRule
      params:
        - min_budget_tokens: 30000
    - name: tool
      rule: match_tool
      params:
        - tool_name: special_tool
    - name: search
      rule: web_search
litellm:
  host: 127.0.0.1
  port: 4000
]]

local LABELS = { "background", "tokens", "think", "tool", "search" }

-- label -> alias entry -> deployment "dep-<label>" with upstream model "up-<label>".
local function config_yaml(base)
  local out = { "model_list:" }
  for _, label in ipairs(LABELS) do
    out[#out + 1] = ([[
  - model_name: LABEL
    litellm_params:
      model: dep-LABEL
  - model_name: dep-LABEL
    litellm_params:
      model: anthropic/up-LABEL
      api_base: BASE]]):gsub("LABEL", label):gsub("BASE", base)
  end
  out[#out + 1] = ([[
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base)
  return table.concat(out, "\n")
end

-- A long conversation: about 50,000 words of varied text, far above 20,000 tokens.
local function long_text()
  local words = {}
  for i = 1, 50000 do
    words[i] = "word" .. (i * 7919 % 100003)
  end
  return table.concat(words, " ")
end

describe("routing through the real pipeline", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml(mock:base()) })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    -- A crash shows as one, on the test that caused it.
    proxy:check_alive()
  end)

  before_each(function()
    mock:reset()
  end)

  local function sent_model()
    local rec = mock:last_request()
    return H.decode(rec.body).model, rec
  end

  local cases = {
    {
      label = "background",
      body = H.messages_body({ model = "claude-haiku-5-5" }),
    },
    {
      label = "tokens",
      body = H.messages_body({ messages = { { role = "user", content = long_text() } } }),
    },
    {
      label = "think",
      body = H.messages_body({
        max_tokens = 40000,
        thinking = { type = "enabled", budget_tokens = 31000 },
      }),
    },
    {
      label = "tool",
      body = H.messages_body({
        tools = {
          { name = "Read", description = "read", input_schema = { type = "object" } },
          { name = "special_tool", description = "special", input_schema = { type = "object" } },
        },
      }),
    },
    {
      label = "search",
      body = H.messages_body({
        tools = { { type = "web_search_20250305", name = "web_search", max_uses = 5 } },
      }),
    },
  }

  for _, case in ipairs(cases) do
    it("sends a request the " .. case.label .. " rule matches to up-" .. case.label, function()
      local res = proxy:messages(case.body)
      assert.equals(200, res.status, res.body)
      assert.equals(case.label, res.headers["x-ccproxy-label"])
      assert.equals("dep-" .. case.label, res.headers["x-ccproxy-deployment"])
      assert.equals("up-" .. case.label, res.headers["x-ccproxy-model"])
      assert.equals("up-" .. case.label, (sent_model()))
      assert.equals("up-" .. case.label, H.decode(res.body).model)
    end)
  end

  it("lets a streaming request of a rule's label stream from its deployment", function()
    local res = proxy:messages(H.messages_body({ model = "claude-haiku-5-5", stream = true }))
    assert.equals(200, res.status)
    assert.equals("background", res.headers["x-ccproxy-label"])
    assert.equals("up-background", H.decode(res.events[1].data).message.model)
    assert.equals("up-background", (sent_model()))
  end)

  it("passes a request no rule matches through with the client's model", function()
    local res = proxy:messages(H.messages_body({
      thinking = { type = "enabled", budget_tokens = 1024 }, -- under min_budget_tokens
      tools = {
        { name = "special", description = "near miss", input_schema = { type = "object" } },
      },
    }))
    assert.equals(200, res.status)
    assert.equals("default", res.headers["x-ccproxy-label"])
    assert.equals("claude-sonnet-5-5", (sent_model()))
  end)

  it("labels by the first matching rule in config order", function()
    -- Both background (haiku) and think match: background comes first.
    local res = proxy:messages(H.messages_body({
      model = "claude-haiku-5-5",
      max_tokens = 40000,
      thinking = { type = "enabled", budget_tokens = 31000 },
    }))
    assert.equals("background", res.headers["x-ccproxy-label"])
    assert.equals("up-background", (sent_model()))
  end)

  describe("count_tokens", function()
    it("is routed like messages", function()
      mock:script({ { endpoint = "count_tokens", count_tokens = 4242 } })
      local body = { model = "claude-haiku-5-5", messages = { { role = "user", content = "hi" } } }
      local res = proxy:messages(body, {
        path = "/v1/messages/count_tokens",
      })
      assert.equals(200, res.status)
      assert.equals(4242, H.decode(res.body).input_tokens)
      assert.equals("background", res.headers["x-ccproxy-label"])
      local model, rec = sent_model()
      assert.equals("/v1/messages/count_tokens", rec.path)
      assert.equals("up-background", model)
    end)

    it("keeps the query string and the client's model when no rule matches", function()
      local body = { model = "claude-sonnet-5-5", messages = { { role = "user", content = "hi" } } }
      local res = proxy:messages(body, {
        path = "/v1/messages/count_tokens?beta=true",
      })
      assert.equals(200, res.status)
      assert.is_number(H.decode(res.body).input_tokens)
      local model, rec = sent_model()
      assert.equals("/v1/messages/count_tokens?beta=true", rec.path)
      assert.equals("claude-sonnet-5-5", model)
    end)
  end)
end)
