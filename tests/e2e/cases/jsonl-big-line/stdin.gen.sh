# JSONL on standard input whose line 2 is a 50 MiB record, between two good ones.
{
printf '%s\n' '{"from":{"name":"Ann Lee"},"message":"We met at the Toledo meetup"}'
printf '{"from":{"name":"Bob Stone"},"message":"'
head -c 52428800 /dev/zero | tr '\0' 'x'
printf '"}\n'
printf '%s\n' '{"from":{"name":"Cy Young"}}'
} > stdin
