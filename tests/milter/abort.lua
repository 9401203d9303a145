-- abort.lua: a message aborted mid-body (mt.abort, as after RSET) and one
-- aborted mid-headers leave nothing behind: the next message on the same
-- connection is triaged on its own (the aborted pitch would turn it into a
-- decline, its forged header would be deleted from it).
local T = dofile(dir .. "/common.lua")

T.run(function()
  local pitch = T.read_mail(dir .. "/mail/pitch-invitation.eml")
  local personal = T.read_mail(dir .. "/mail/personal-invitation.eml")
  local conn = T.connect()

  T.call("mailfrom", conn, "<invitations@linkedin.com>")
  T.call("header", conn, "X-Doorman-Verdict", "accept")
  for _, h in ipairs(pitch.headers) do T.call("header", conn, h.name, h.value) end
  T.call("eoh", conn)
  T.call("bodystring", conn, pitch.body:sub(1, 200))
  T.call("abort", conn)

  T.call("mailfrom", conn, "<invitations@linkedin.com>")
  T.call("header", conn, "Subject", "I help coaches get 10 new clients every month")
  T.call("abort", conn)

  T.send(conn, personal)
  T.expect_verdict(conn, "accept", {"FOLLOW_UP"}, "after two aborts")
  T.check(not mt.eom_check(conn, MT_HDRDELETE), "after two aborts: nothing deleted")
  mt.disconnect(conn)
end)
