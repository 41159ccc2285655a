-- spec/functional/tool_result_images_spec.lua: an image a tool returned (a screenshot) reaches
-- a vision-capable translated route as an image, and a route whose model takes none
-- (model_info.supports_vision: false) as a short text note instead, never a 400. Against the
-- mock, which checks each dialect as its real API would.
local H = require("proxy_harness")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  rules:
    - {name: oa_vision, rule: ccproxy.rules.MatchModelRule, params: [{model_name: oa-vision}]}
    - {name: oa_blind, rule: ccproxy.rules.MatchModelRule, params: [{model_name: oa-blind}]}
    - {name: gm_vision, rule: ccproxy.rules.MatchModelRule, params: [{model_name: gm-vision}]}
    - {name: gm_blind, rule: ccproxy.rules.MatchModelRule, params: [{model_name: gm-blind}]}
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(base)
  return ([[
model_list:
  - model_name: oa_vision
    litellm_params: {model: openai/gpt-vision, api_base: BASE/v1, api_key: sk-mock}
  - model_name: oa_blind
    litellm_params: {model: openai/text-only, api_base: BASE/v1, api_key: sk-mock}
    model_info: {supports_vision: false}
  - model_name: gm_vision
    litellm_params: {model: gemini/gemini-vision, api_base: BASE, api_key: mock-key}
  - model_name: gm_blind
    litellm_params: {model: gemini/gemini-text, api_base: BASE, api_key: mock-key}
    model_info: {supports_vision: false}
]]):gsub("BASE", base)
end

local PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
local NOTE = "[an image was here: this model does not take images]"

-- A tool round trip whose result is a screenshot with a caption.
local function with_screenshot(model)
  return H.messages_body({
    model = model,
    messages = {
      { role = "user", content = "take a screenshot" },
      { role = "assistant", content = {
        { type = "tool_use", id = "toolu_1", name = "Screenshot", input = {} } } },
      { role = "user", content = {
        { type = "tool_result", tool_use_id = "toolu_1", content = {
          { type = "text", text = "the screen:" },
          { type = "image", source = { type = "base64", media_type = "image/png", data = PNG } },
        } },
      } },
    },
    tools = { { name = "Screenshot", description = "takes one",
      input_schema = { type = "object", properties = {} } } },
  })
end

describe("an image in a tool result", function()
  local S = H.suite({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml })

  local function send(model)
    local res = S.proxy:messages(with_screenshot(model), { timeout = 5 })
    assert.equals(200, res.status, res.body)
    local reqs = S.mock:requests()
    assert.equals(1, #reqs)
    assert.is_not.equals("string", type(reqs[1].invalid), tostring(reqs[1].invalid))
    return reqs[1].body
  end

  it("reaches a vision-capable OpenAI-compatible model as an image", function()
    local body = send("claude-oa-vision")
    assert.truthy(body:find("data:image/png;base64," .. PNG, 1, true))
    assert.falsy(body:find(NOTE, 1, true))
  end)

  it("becomes a text note for an OpenAI-compatible model without vision", function()
    local body = send("claude-oa-blind")
    assert.falsy(body:find(PNG, 1, true))
    assert.falsy(body:find("image_url", 1, true))
    assert.truthy(body:find("the screen:\\n" .. NOTE, 1, true))
  end)

  it("reaches a Gemini model as inline data", function()
    local body = send("claude-gm-vision")
    assert.truthy(body:find('"inlineData"', 1, true))
    assert.truthy(body:find(PNG, 1, true))
  end)

  it("becomes a text note for a Gemini model without vision", function()
    local body = send("claude-gm-blind")
    assert.falsy(body:find(PNG, 1, true))
    assert.falsy(body:find("inlineData", 1, true))
    assert.truthy(body:find(NOTE, 1, true))
  end)

  it("in the user's own message too", function()
    local res = S.proxy:messages(H.messages_body({ model = "claude-oa-blind", messages = {
      { role = "user", content = {
        { type = "text", text = "what is this?" },
        { type = "image", source = { type = "base64", media_type = "image/png", data = PNG } },
      } } } }), { timeout = 5 })
    assert.equals(200, res.status, res.body)
    local body = S.mock:requests()[1].body
    assert.falsy(body:find(PNG, 1, true))
    assert.truthy(body:find(NOTE, 1, true))
  end)
end)
