-- spec/lua/image_spec.lua: rules/image.lua: an image block anywhere in the conversation,
-- inside tool_result content too; with last_message_only, in the newest user message only.
local fx = require("fixtures")
local json = require("ccproxy").json

local PNG = { type = "image", source = { type = "base64", media_type = "image/png",
                                         data = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAf" } }

-- b_tool_roundtrip's second request: user text, a system message, assistant tool_use, user
-- tool_result.
local function roundtrip()
  return json.decode(fx.body("b_tool_roundtrip", 2))
end

local function request(body)
  return fx.body_request(type(body) == "table" and json.encode(body) or body)
end

describe("rule image", function()
  it("matches no fixture: Claude Code's requests carry no image", function()
    local match = fx.rule("image")
    local last = fx.rule("image", { last_message_only = true })
    for _, name in ipairs(fx.messages) do
      assert.is_false(match(fx.request(name)), name)
      assert.is_false(last(fx.request(name)), name)
    end
    assert.is_false(match(fx.request("b_tool_roundtrip", { n = 2 })))
  end)

  it("matches an image the user pasted", function()
    local body = json.decode(fx.body("a_say_hi"))
    table.insert(body.messages[1].content, 1, PNG)
    assert.is_true(fx.rule("image")(request(body)))
    assert.is_true(fx.rule("image", { last_message_only = true })(request(body)))
  end)

  it("matches an image inside a tool_result (the Read tool on a picture)", function()
    local body = roundtrip()
    local result = body.messages[4].content[1]
    assert.equal("tool_result", result.type)
    result.content = { { type = "text", text = "the file" }, PNG }
    assert.is_true(fx.rule("image")(request(body)))
    assert.is_true(fx.rule("image", { last_message_only = true })(request(body)))
  end)

  it("with last_message_only, ignores images in earlier messages", function()
    local body = roundtrip()
    table.insert(body.messages[1].content, PNG)
    assert.is_true(fx.rule("image")(request(body)))
    assert.is_false(fx.rule("image", { last_message_only = true })(request(body)))
    -- the newest user message, even when the assistant spoke last
    body = roundtrip()
    table.insert(body.messages[4].content, PNG)
    body.messages[5] = { role = "assistant", content = { { type = "text", text = "ok" } } }
    assert.is_true(fx.rule("image", { last_message_only = true })(request(body)))
  end)

  it("does not take other blocks or strings for images", function()
    local match = fx.rule("image")
    local function user(content) return { messages = { { role = "user", content = content } } } end
    for _, body in ipairs({
      user("type image"),
      user({ { type = "text", text = "\"type\":\"image\"" } }),
      user({ { type = "document", source = PNG.source } }),
      user({ { type = "tool_result", content = "image" } }),
      user({ { type = "tool_use", input = { PNG } } }),
      { messages = json.null },
      { messages = { "image", 3, json.null } },
      { model = "m" },
    }) do
      assert.is_false(match(request(body)), json.encode(body))
    end
    assert.is_false(fx.rule("image", { last_message_only = true })(
      request({ messages = { { role = "assistant", content = { PNG } } } })))
  end)

  it("matches an image in an assistant or system message of the history", function()
    assert.is_true(fx.rule("image")(request({ messages = {
      { role = "user", content = "hi" }, { role = "assistant", content = { PNG } } } })))
  end)
end)
