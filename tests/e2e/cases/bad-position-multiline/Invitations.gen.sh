# Bad rows whose problem lies on a later line of a multi-line quoted note.
# Bob's note holds invalid UTF-8 on its second line (line 3): the position is
# that line and column, so an editor jumps to the byte, and the text names the
# row's first line.  Cy's note closes on line 5 and text follows the quote:
# that is what a stray quote looks like (it pairs with a quote of the next
# row), so the reader reports the quote that opened the note on line 4 and
# reads on from line 5, which is then a row of 4 fields of its own.
u=https://www.linkedin.com/in
{
printf 'From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n'
printf 'Bob Stone,Morgan Reyes,"2/10/26, 9:16 AM","Hi Morgan,\nsecond \377 line",INCOMING,%s/bob-stone,%s/morgan-reyes-sc\n' $u $u
printf 'Cy Young,Morgan Reyes,"2/10/26, 9:17 AM","Hi\nMorgan" thanks,INCOMING,%s/cy-young,%s/morgan-reyes-sc\n' $u $u
printf 'Di Ross,Morgan Reyes,"2/10/26, 9:18 AM",We met at the Toledo meetup,INCOMING,%s/di-ross,%s/morgan-reyes-sc\n' $u $u
} > Invitations.csv
