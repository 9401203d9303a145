-- headers.lua: a pitch invitation is declined and a personal one accepted,
-- each with the three X-Doorman headers added (MT_HDRADD), nothing deleted
-- when nothing was forged, and a long X-Doorman-Rules folded the way
-- libmilter wants (LF and a space, no CR; no line over 78 columns).
local T = dofile(dir .. "/common.lua")

T.run(function()
  local pitch = T.read_mail(dir .. "/mail/pitch-invitation.eml")
  local personal = T.read_mail(dir .. "/mail/personal-invitation.eml")

  local conn = T.connect()
  T.send(conn, pitch)
  local rules = T.expect_verdict(conn, "decline", {"PITCH_I_HELP", "PITCH_CALENDAR_LINK"}, "pitch")
  T.check(not mt.eom_check(conn, MT_HDRDELETE), "pitch: no header deleted")
  T.check(not rules:find("\r", 1, true), "pitch: no CR in the folded X-Doorman-Rules")
  local first = true
  for line in (rules .. "\n"):gmatch("(.-)\n") do
    local width = #line + (first and #"X-Doorman-Rules: " or 0)
    T.check(width <= 78, "pitch: X-Doorman-Rules line of " .. width .. " columns <= 78")
    if not first then T.check(line:match("^[ \t]%S") ~= nil, "pitch: continuation starts with one blank") end
    first = false
  end
  T.check(rules:find("\n", 1, true) ~= nil, "pitch: the long X-Doorman-Rules is folded")
  mt.disconnect(conn)

  conn = T.connect()
  T.send(conn, personal)
  T.expect_verdict(conn, "accept", {"FOLLOW_UP"}, "personal")
  T.check(not mt.eom_check(conn, MT_HDRDELETE), "personal: no header deleted")
  mt.disconnect(conn)
end)
