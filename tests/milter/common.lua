-- common.lua: what the doorman-milter scripts share.  Each script starts with
--   local T = dofile(dir .. "/common.lua")
-- and runs as `miltertest -D socket=SPEC -D dir=THIS_FOLDER -s SCRIPT`.
--
-- miltertest prints nothing when a script raises an error, it just exits 1:
-- T.run() catches the error, prints "FAIL: why" and exits 1 itself.

local T = {}

function T.run(body)
  local ok, err = pcall(body)
  if not ok then
    mt.echo("FAIL: " .. tostring(err))
    os.exit(1)
  end
end

function T.check(cond, what)
  if not cond then error(what, 2) end
  mt.echo("ok: " .. what)
end

-- T.call() runs an mt.* step that returns nil on success, an error text otherwise.
function T.call(what, ...)
  local f = mt[what]
  local err = f(...)
  if err ~= nil then error("mt." .. what .. "(): " .. tostring(err), 2) end
end

-- T.connect() connects and checks what the milter negotiated: add and
-- delete headers, and no HELO (so the script never sends one: miltertest
-- fills the steps a script skips with what was negotiated).
function T.connect()
  local conn = mt.connect(socket, 40, 0.25)
  if conn == nil then error("mt.connect(" .. socket .. ") failed") end
  mt.set_timeout(30)
  if not mt.test_action(conn, SMFIF_ADDHDRS) then error("SMFIF_ADDHDRS not negotiated") end
  if not mt.test_action(conn, SMFIF_CHGHDRS) then error("SMFIF_CHGHDRS not negotiated") end
  if not mt.test_option(conn, SMFIP_NOHELO) then error("SMFIP_NOHELO not negotiated") end
  return conn
end

-- T.read_mail() reads an .eml file: its headers as {name, value} in order
-- (a folded value keeps its line breaks as LF, as Postfix hands them over)
-- and its body with CRLF line ends.
function T.read_mail(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  text = text:gsub("\r\n", "\n")
  local head, body = text:match("^(.-)\n\n(.*)$")
  if not head then error(path .. ": no blank line after the headers") end
  local headers = {}
  for line in (head .. "\n"):gmatch("(.-)\n") do
    if line:match("^[ \t]") and #headers > 0 then
      headers[#headers].value = headers[#headers].value .. "\n" .. line
    else
      local name, value = line:match("^([^:]+):[ \t]?(.*)$")
      if not name then error(path .. ": not a header line: " .. line) end
      headers[#headers + 1] = {name = name, value = value}
    end
  end
  return {headers = headers, body = body:gsub("\n", "\r\n")}
end

-- T.send() sends one message: the envelope, `extra` headers (a list of
-- {name, value}) before the mail's own, the body in chunks, end of message.
-- queue_id false sends no {i} macro: miltertest writes a macro and the next
-- command as two packets, and with Nagle on its side the second waits for
-- the milter's delayed ACK (40 ms), which load.lua does not want to time.
function T.send(conn, mail, extra, queue_id)
  if queue_id ~= false then mt.macro(conn, SMFIC_MAIL, "i", queue_id or "TESTQID") end
  T.call("mailfrom", conn, "<invitations@linkedin.com>")
  for _, h in ipairs(extra or {}) do T.call("header", conn, h[1], h[2]) end
  for _, h in ipairs(mail.headers) do T.call("header", conn, h.name, h.value) end
  T.call("eoh", conn)
  local body, chunk = mail.body, 16384
  for i = 1, #body, chunk do T.call("bodystring", conn, body:sub(i, i + chunk - 1)) end
  T.call("eom", conn)
end

-- The value of the header the milter added, or nil.
function T.added(conn, name)
  return mt.getheader(conn, name, 0)
end

-- T.expect_verdict() checks the three headers of one triaged message: the
-- verdict, a score on the right side of the default thresholds (decline at
-- 5, accept at -2), and every rule in `rules` named in X-Doorman-Rules.
-- Returns the Rules value as added (folded).
function T.expect_verdict(conn, verdict, rules, what)
  local reply = mt.getreply(conn)
  T.check(reply == SMFIR_CONTINUE or reply == SMFIR_ACCEPT,
          what .. ": the mail passes (reply " .. string.char(reply) .. ")")
  T.check(mt.eom_check(conn, MT_HDRADD, "X-Doorman-Verdict", verdict),
          what .. ": X-Doorman-Verdict: " .. verdict .. " (got " ..
          tostring(T.added(conn, "X-Doorman-Verdict")) .. ")")
  local score = tonumber(T.added(conn, "X-Doorman-Score"))
  T.check(score ~= nil, what .. ": X-Doorman-Score is a number")
  if verdict == "decline" then T.check(score >= 5, what .. ": score " .. score .. " >= 5") end
  if verdict == "accept" then T.check(score <= -2, what .. ": score " .. score .. " <= -2") end
  local list = T.added(conn, "X-Doorman-Rules")
  T.check(list ~= nil, what .. ": X-Doorman-Rules added")
  local flat = list:gsub("\n[ \t]", " ")
  for _, r in ipairs(rules) do
    T.check((", " .. flat .. ","):find(", " .. r .. ",", 1, true) ~= nil,
            what .. ": X-Doorman-Rules names " .. r)
  end
  return list
end

return T
