-- spec/lua/add_beta_headers_spec.lua: hooks/add_beta_headers.lua: params.betas merged into
-- anthropic-beta for Anthropic deployments only; order kept, nothing repeated.
local fx = require("fixtures")
local core = require("ccproxy.core")

local CFG = fx.config("hooks-route")

local function run(req, label, betas)
  local hooks = { { module = "ccproxy.hooks.add_beta_headers", params = { betas = betas } } }
  if label then
    req.label = label
    table.insert(hooks, 1, "model_router")
  end
  return core.finish(fx.pipeline { config_dir = CFG, hooks = hooks }(req))
end

local function request(headers)
  return core.request { headers = headers, config_dir = CFG,
                        body = { model = "claude-sonnet-5-5", max_tokens = 10 } }
end

describe("hook add_beta_headers", function()
  it("appends new betas to Claude Code's list and leaves the rest as sent", function()
    local raw = fx.header(fx.headers("a_say_hi"), "anthropic-beta")
    local out = run(fx.request("a_say_hi", { config_dir = CFG }), "default",
                    { "fine-grained-tool-streaming-2025-05-14", "claude-code-20250219",
                      "context-1m-2025-08-07" })
    assert.equal("anthropic", out.deployment.provider)
    assert.same({ raw .. ",fine-grained-tool-streaming-2025-05-14,context-1m-2025-08-07", 1 },
                { fx.header(out.headers, "anthropic-beta") })
    assert.equal(fx.body("a_say_hi"), out.body)
  end)

  it("leaves the header exactly as sent when it holds every beta", function()
    local out = run(request({ { "anthropic-beta", "b-1 , a-2" } }), "claude-opus-5-5",
                    { "a-2", "b-1" })
    assert.same({ "b-1 , a-2", 1 }, { fx.header(out.headers, "anthropic-beta") })
  end)

  it("de-duplicates, folds repeated fields into one and trims", function()
    local out = run(request({ { "anthropic-beta", "b-1, a-2,b-1" }, { "Anthropic-Beta", "c-3" } }),
                    "claude-opus-5-5", { "a-2", "d-4", "d-4", "c-3", "e-5" })
    assert.same({ "b-1,a-2,c-3,d-4,e-5", 1 }, { fx.header(out.headers, "anthropic-beta") })
  end)

  it("creates the header when the client sent none", function()
    local out = run(request({}), "claude-opus-5-5", { "x-1", "y-2" })
    assert.same({ "x-1,y-2", 1 }, { fx.header(out.headers, "anthropic-beta") })
  end)

  it("leaves requests to other providers alone", function()
    for _, label in ipairs({ "gpt", "gemini-pro", "gpt-keyed" }) do
      local out = run(request({ { "anthropic-beta", "b-1" } }), label, { "x-1" })
      assert.are_not.equal("anthropic", out.deployment.provider)
      assert.same({ "b-1", 1 }, { fx.header(out.headers, "anthropic-beta") }, label)
      out = run(request({}), label, { "x-1" })
      assert.is_nil(fx.header(out.headers, "anthropic-beta"), label)
    end
  end)

  it("counts a request not routed yet as Anthropic's", function()
    local out = run(request({}), nil, { "x-1" })
    assert.same({ "x-1", 1 }, { fx.header(out.headers, "anthropic-beta") })
  end)

  it("refuses an empty or malformed list", function()
    local rt = require("ccproxy.runtime")
    local function load(params)
      return rt.load { config_dir = CFG, builtin_dir = fx.repo, hooks = {
        { module = "add_beta_headers", params = params, where = "ccproxy.yaml:4:7" } } }
    end
    local ok, err = load({})
    assert.is_false(ok)
    assert.equal("ccproxy.yaml:4:7: hook 'add_beta_headers' params rejected: betas is empty: "
      .. "list the anthropic-beta values to add, e.g. params: {betas: "
      .. "[interleaved-thinking-2025-05-14]}", err)
    ok, err = load({ betas = { "a-1", "two words" } })
    assert.is_false(ok)
    assert.matches("betas[2] must be a beta name", err, 1, true)
    ok, err = load({ betas = { "a,b" } })
    assert.is_false(ok)
    assert.matches("betas[1] must be a beta name", err, 1, true)
  end)
end)
