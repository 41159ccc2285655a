-- hooks/forward_oauth.lua: OAuth credentials for the routed provider (place it after
-- model_router; before routing the provider is taken to be "anthropic").
--   The client's Authorization goes upstream, over a deployment's own api_key, when the
--   provider is one of params.forward_to (default {"anthropic"}); to other providers it is
--   never sent: they get that provider's oat_sources token, or their own api_key.
--   A client without an Authorization header gets the provider's oat_sources token as
--   "Authorization: Bearer <token>", and that source's user_agent as User-Agent when set,
--   unless the deployment has an api_key of its own.
--   Anthropic with an OAuth token (sk-ant-oat...): oauth-2025-04-20 is merged into
--   anthropic-beta and x-api-key is removed (Anthropic refuses both together).
-- It logs at debug level what it did; tokens never reach the log.
local claude = require("ccproxy.claude")

local function contains(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

local function with_bearer(token)
  if token:match("^[Bb][Ee][Aa][Rr][Ee][Rr]%s") then return token end
  return "Bearer " .. token
end

-- Uses the oat_sources token of `provider`; returns a description of what was done, or nil
-- when there is no token (then it logs why). `client` says what the client's Authorization
-- was: "none", or "withheld" (not sent to this provider).
local function use_oat(req, provider, d, client, client_has_key)
  if d and d.has_api_key then
    return "kept the deployment's api_key"
  end
  local token, ua = req:oauth_token(provider)
  if not token then
    local why = ua
    -- With the client's x-api-key the request may still authenticate.
    local level = client_has_key and "debug" or "warn"
    req:log(level, string.format("forward_oauth: no Authorization for %s: %s%s, and there is "
      .. "no oat_sources token (%s)", provider,
      client == "none" and "the client sent none" or "the client's is not sent to " .. provider
        .. " (add it to forward_to to send it)",
      client_has_key and " (it sent an x-api-key)" or "", tostring(why)))
    return nil
  end
  req.headers["authorization"] = with_bearer(token)
  if ua and ua ~= "" then
    req.headers["user-agent"] = ua
    return "sent the " .. provider .. " oat_sources token with its user agent"
  end
  return "sent the " .. provider .. " oat_sources token"
end

return {
  params = { forward_to = { "anthropic" } },
  check = function(params)
    for i, v in ipairs(params.forward_to) do
      if type(v) ~= "string" or v == "" then
        return false, string.format("forward_to[%d] must be a provider name such as "
          .. "\"anthropic\", got %s", i, tostring(v))
      end
    end
    return true
  end,
  request = function(req, params)
    local d = req.deployment
    local provider = d and d.provider or "anthropic"
    local client_auth = req.client_headers["authorization"]
    local client_key = req.client_headers["x-api-key"]
    local client_has_key = client_key ~= nil and client_key ~= ""
    local did
    if client_auth and client_auth ~= "" then
      if contains(params.forward_to, provider) then
        req.headers["authorization"] = client_auth
        if provider == "anthropic" then
          -- The client's credentials travel as it sent them, not beside a configured key.
          req.headers["x-api-key"] = client_has_key and client_key or nil
        end
        did = "forwarded the client's Authorization"
      else
        if req.headers["authorization"] == client_auth then
          req.headers["authorization"] = nil
        end
        did = use_oat(req, provider, d, "withheld", client_has_key)
        did = "did not send the client's Authorization to " .. provider
          .. (did and "; " .. did or "")
      end
    else
      did = use_oat(req, provider, d, "none", client_has_key)
    end
    local oauth = provider == "anthropic" and claude.is_oauth(req.headers["authorization"])
    if oauth then
      req.headers["x-api-key"] = nil
      local added = claude.add_betas(req.headers, { claude.OAUTH_BETA })
      if #added > 0 then did = (did or "") .. "; added anthropic-beta " .. claude.OAUTH_BETA end
    end
    if did then
      req:log("debug", string.format("forward_oauth: %s (provider %s%s)", did, provider,
        oauth and ", OAuth" or ""))
    end
  end,
}
