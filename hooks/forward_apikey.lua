-- hooks/forward_apikey.lua: the client's x-api-key goes upstream, even when the deployment has
-- an api_key of its own (put this hook after model_router).
return {
  request = function(req)
    local key = req.client_headers["x-api-key"]
    if key and key ~= "" then
      req.headers["x-api-key"] = key
    end
  end,
}
