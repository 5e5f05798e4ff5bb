-- Sprout's rules engine for nginx (lua-nginx-module). A site's _redirects, _headers, netlify.toml
-- and SPA setting are compiled by the agent to data (rules/rules-data.ts), one file per rules text:
--   <sites>/<site>/lua/<name>.lua, and a link <sites>/<site>/lua/<deployment> -> <name>.lua.
-- This module applies them per request. nginx reads no site's rules when it starts or reloads, so a
-- deploy of rules reloads nothing, and every site is served by the same server{} with no hand-over.
local ffi = require("ffi")
local C = ffi.C
ffi.cdef([[
  long readlink(const char *path, char *buf, size_t bufsiz);
  int access(const char *path, int mode);
]])

local M = {}
local sites_dir = nil
local buf = ffi.new("char[256]")
-- Each worker keeps the rules it served lately, by file name: a name is its content's digest, so an
-- entry is never stale. Bounded: past MAX_CACHED entries or MAX_BYTES of rules read, it starts again.
local MAX_CACHED = 4096
local MAX_BYTES = 64 * 1024 * 1024
local cache, cached, bytes = {}, 0, 0
local SEP, PAIR = "\31", "\30"
-- add_header's statuses: a site's header lines go out with these only, as nginx's add_header does.
local HEADER_STATUS = { [200] = true, [201] = true, [204] = true, [206] = true, [301] = true, [302] = true, [303] = true, [304] = true, [307] = true, [308] = true }

function M.init(dir)
  sites_dir = dir
end

local function readlink(path)
  local n = tonumber(C.readlink(path, buf, 255))
  if n <= 0 then return nil end
  return ffi.string(buf, n)
end

-- BROKEN: a deployment has rules but they cannot be read: its requests fail (503) rather than be
-- served without them (without its Basic-Auth, say).
local BROKEN = { broken = true }

local function load(name)
  local t = cache[name]
  if t ~= nil then return t end
  t = BROKEN
  local f = io.open(name, "rb")
  if f then
    local src = f:read("*a")
    f:close()
    if bytes + #src > MAX_BYTES then cache, cached, bytes = {}, 0, 0 end
    bytes = bytes + #src
    local chunk = loadstring(src, "=rules")
    if chunk then
      -- Data only: the chunk sees no globals (and the agent escaped every string it holds).
      setfenv(chunk, {})
      local ok, v = pcall(chunk)
      if ok and type(v) == "table" then t = v end
    end
  end
  if t == BROKEN then return t end -- not kept: the next request tries again
  if cached >= MAX_CACHED then cache, cached, bytes = {}, 0, 0 end
  cache[name] = t
  cached = cached + 1
  return t
end

-- rules answers the request's rules (a table) or false. The deployment is the preview host's, else
-- the one `current` points at, read per request, so an activation is seen by the next request with
-- its own rules. Which file applies is kept in $sprout_rules_file for the request's later phases
-- (nginx variables live through internal redirects; ngx.ctx does not).
local function rules()
  local v = ngx.var
  local file = v.sprout_rules_file
  if file == "-" then return false end
  if file ~= nil and file ~= "" then return load(file) end
  local site = v.site
  local dir = sites_dir .. "/" .. site
  local dep = v.dep
  if dep == nil or dep == "" then
    local target = readlink(dir .. "/current")
    dep = target and target:match("^deploys/([%w]+)$")
  end
  local name = dep and readlink(dir .. "/lua/" .. dep)
  if not name or not name:match("^[%w]+%.lua$") then
    v.sprout_rules_file = "-"
    return false
  end
  file = dir .. "/lua/" .. name
  v.sprout_rules_file = file
  return load(file)
end

local function expand(tpl, m)
  return (tpl:gsub("%${([%w_]+)}", function(name)
    if name == "__args" then
      local a = ngx.var.args
      return (a and a ~= "") and ("?" .. a) or ""
    end
    local c = m[name]
    return type(c) == "string" and c or ""
  end))
end

-- redirect answers "<status or proxy>|<target>" of the first rule that matches, or "".
function M.redirect()
  local t = rules()
  if t == BROKEN then return "fail|" end
  if not t or not t.rules then return "" end
  local v = ngx.var
  local e = ""
  if t.unforced then
    -- Shadowing: a file (or its clean-URL .html) at the path wins over unforced rules.
    local f = v.request_filename
    if f and (C.access(f, 0) == 0 or C.access(f .. ".html", 0) == 0) then e = "1" end
  end
  local parts = { v.sprout_rules_uri, "#", e }
  for _, name in ipairs(t.params) do
    local a = v["arg_" .. name] or ""
    -- Over 256 bytes, or holding the key's separators: no rule matches it.
    if #a > 256 or a:find("[|#]") then a = "//" end
    parts[#parts + 1] = "|" .. a
  end
  for _, name in ipairs(t.cookies) do
    local c = v["cookie_" .. name]
    parts[#parts + 1] = (c and c ~= "") and "|1" or "|"
  end
  if t.language then parts[#parts + 1] = "|" .. (v.sprout_lang or "") end
  if t.country then parts[#parts + 1] = "|" .. (v.geoip_country_code or "") end
  local key = table.concat(parts)
  if t.prefilter then
    -- Most requests match no rule: one combined test per chunk spares them the rules one by one.
    local hit = false
    for i = 1, #t.prefilter do
      if ngx.re.find(key, t.prefilter[i], "o") then hit = true break end
    end
    if not hit then return "" end
  end
  local list = t.rules
  for i = 1, #list do
    local m = ngx.re.match(key, list[i][1], "o")
    if m then return expand(list[i][2], m) end
  end
  return ""
end

-- header_set answers what the site's _headers give the resource now served ($sprout_resource):
-- "<Cache-Control> SEP <htpasswd file> SEP <name> PAIR <value> SEP ...", every matching block in file
-- order; Cache-Control and Basic-Auth from the first block that has them. "" when none applies.
function M.header_set()
  local t = rules()
  if not t or not t.headers then return "" end
  local res = ngx.var.sprout_resource
  local cc, auth, out = "", "", nil
  local list = t.headers
  for i = 1, #list do
    local b = list[i]
    if ngx.re.find(res, b[1], "o") then
      out = out or {}
      if cc == "" then cc = b[2] end
      if auth == "" then auth = b[3] end
      local lines = b[4]
      for j = 1, #lines, 2 do out[#out + 1] = lines[j] .. PAIR .. lines[j + 1] end
    end
  end
  if not out then return "" end
  return cc .. SEP .. auth .. (#out > 0 and (SEP .. table.concat(out, SEP)) or "")
end

-- send_headers adds the header lines of $sprout_hs to the answer (header filter phase).
function M.send_headers()
  local hs = ngx.var.sprout_hs
  if hs == nil or hs == "" or not HEADER_STATUS[ngx.status] then return end
  local out, k = {}, 0
  for field in (hs .. SEP):gmatch("([^\31]*)\31") do
    k = k + 1
    if k > 2 and field ~= "" then
      local name, value = field:match("^([^\30]*)\30(.*)$")
      if name and value ~= "" then
        local cur = out[name]
        if cur == nil then out[name] = value
        elseif type(cur) == "table" then cur[#cur + 1] = value
        else out[name] = { cur, value } end
      end
    end
  end
  for name, value in pairs(out) do ngx.header[name] = value end
end

-- spa answers "1" when the site serves /index.html for paths that are not files (SPA setting).
function M.spa()
  local t = rules()
  return (t and t.spa) and "1" or ""
end

-- proxy_authorization: the visitor's Authorization header goes to a proxy rule's target unless
-- the site uses Basic-Auth (its password is never passed on to the other site).
function M.proxy_authorization()
  local t = rules()
  if t and t.auth then return "" end
  return ngx.var.http_authorization or ""
end

-- check answers why the rules file at `path` cannot be served (a regex PCRE refuses), or nil. The
-- agent runs it under `nginx -t` before a deployment's rules are used (lua-engine.ts validateRules).
function M.check(path)
  local f = io.open(path, "rb")
  if not f then return "cannot read " .. path end
  local chunk, err = loadstring(f:read("*a"), "=rules")
  f:close()
  if not chunk then return err end
  setfenv(chunk, {})
  local ok, t = pcall(chunk)
  if not ok or type(t) ~= "table" then return "not a rules table" end
  local function try(re, what)
    local _, _, e = ngx.re.find("", re, "")
    if e then return what .. ": " .. e end
  end
  for i, re in ipairs(t.prefilter or {}) do
    local e = try(re, "the rules together")
    if e then return e end
  end
  for i, r in ipairs(t.rules or {}) do
    local e = try(r[1], "rule " .. i)
    if e then return e end
  end
  for i, b in ipairs(t.headers or {}) do
    local e = try(b[1], "_headers block " .. i)
    if e then return e end
  end
  return nil
end

return M
