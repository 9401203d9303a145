# Bad rows whose problem lies on a later line of a multi-line quoted note:
# the position names the row's first line; the column would be another line's.
u=https://www.linkedin.com/in
{
printf 'From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n'
printf 'Bob Stone,Morgan Reyes,"2/10/26, 9:16 AM","Hi Morgan,\nsecond \377 line",INCOMING,%s/bob-stone,%s/morgan-reyes-sc\n' $u $u
printf 'Cy Young,Morgan Reyes,"2/10/26, 9:17 AM","Hi\nMorgan" thanks,INCOMING,%s/cy-young,%s/morgan-reyes-sc\n' $u $u
printf 'Di Ross,Morgan Reyes,"2/10/26, 9:18 AM",We met at the Toledo meetup,INCOMING,%s/di-ross,%s/morgan-reyes-sc\n' $u $u
} > Invitations.csv
