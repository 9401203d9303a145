# JSONL on standard input: good records at lines 1 and 9, bad ones between.
{
printf '%s\n' '{"from":{"name":"Ann Lee"},"message":"We met at the Toledo meetup"}'
printf '%s\n' '{"message": 5}'
printf '%s\n' 'not json'
printf '%s\n' '{"kind":"fax"}'
printf '%s\n' '{"mutual":-1,"from":{"name":"Neg Mutual"}}'
printf '%s\n' '[1,2]'
printf '%s\n' '{"from":{"name":"Ann Lee"},"facts":["spinmail","telepathy"]}'
printf '{"from":{"name":"Caf\351 Owner"}}\n'
printf '%s\n' '{"from":{"name":"Cy Young"}}'
printf '%s\n' '{"from":{"name":"Half'
} > stdin
