-- oversize.lua: against a milter with --max-size 6K, a pitch padded past
-- the limit passes unscanned: no verdict header (so no reject either), but
-- its forged X-Doorman header is still deleted.  A small mail on the same
-- connection afterwards is scanned as usual.
local T = dofile(dir .. "/common.lua")

T.run(function()
  local pitch = T.read_mail(dir .. "/mail/pitch-invitation.eml")
  local big = {headers = pitch.headers,
               body = pitch.body .. string.rep("Padding line to push the message over the limit.\r\n", 400)}
  local conn = T.connect()
  T.send(conn, big, {{"X-Doorman-Verdict", "accept"}})
  local reply = mt.getreply(conn)
  T.check(reply == SMFIR_CONTINUE or reply == SMFIR_ACCEPT,
          "oversized: passes (reply " .. string.char(reply) .. ")")
  T.check(not mt.eom_check(conn, MT_HDRADD, "X-Doorman-Verdict"), "oversized: no verdict added")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Verdict", 1), "oversized: forged header deleted")
  mt.disconnect(conn)

  conn = T.connect()
  T.send(conn, T.read_mail(dir .. "/mail/personal-invitation.eml"))
  T.expect_verdict(conn, "accept", {"FOLLOW_UP"}, "small mail after an oversized one")
  mt.disconnect(conn)
end)
