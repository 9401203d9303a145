-- forged.lua: X-Doorman-* headers a sender wrote are deleted, every
-- occurrence, by name and index (smfi_chgheader with no value, seen as
-- MT_HDRDELETE), whatever their case; they do not sway the verdict, and
-- a flood of other X-Doorman-* names cannot push a forged verdict past
-- what the milter keeps track of.
local T = dofile(dir .. "/common.lua")

T.run(function()
  local pitch = T.read_mail(dir .. "/mail/pitch-invitation.eml")
  local conn = T.connect()
  T.send(conn, pitch, {
    {"X-Doorman-Verdict", "accept"},
    {"X-Doorman-Score", "-20"},
    {"x-doorman-verdict", "accept"},
    {"X-Doorman-Rules", "FOLLOW_UP,\n\tGIVES_REASON"},
    {"X-DOORMAN-Anything", "forged"},
    {"X-Doormanish", "not ours"},
  })
  T.expect_verdict(conn, "decline", {"PITCH_I_HELP"}, "forged")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Verdict", 1), "X-Doorman-Verdict #1 deleted")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Verdict", 2),
          "X-Doorman-Verdict #2 (written x-doorman-verdict) deleted")
  T.check(not mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Verdict", 3), "no X-Doorman-Verdict #3")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Score", 1), "X-Doorman-Score deleted")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Rules", 1), "folded X-Doorman-Rules deleted")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-DOORMAN-Anything", 1), "X-DOORMAN-Anything deleted")
  T.check(not mt.eom_check(conn, MT_HDRDELETE, "X-Doormanish"), "X-Doormanish is not ours: kept")
  T.check(not mt.eom_check(conn, MT_HDRCHANGE, "X-Doorman-Verdict", "accept"),
          "no forged value survives as a change")
  mt.disconnect(conn)

  -- a flood of made-up X-Doorman-* names first cannot hide a forged verdict
  local flood = {}
  for i = 1, 300 do flood[#flood + 1] = {"X-Doorman-Junk-" .. i, "x"} end
  flood[#flood + 1] = {"x-doorman-verdict", "accept"}
  conn = T.connect()
  T.send(conn, pitch, flood)
  T.expect_verdict(conn, "decline", {"PITCH_I_HELP"}, "flood")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Verdict", 1),
          "flood: the forged verdict after 300 other names deleted")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Doorman-Junk-1", 1), "flood: the first junk deleted")
  mt.disconnect(conn)
end)
