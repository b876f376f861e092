#!/bin/sh
# moto keeps objects in memory: replay what was recorded before (every write since the volume
# was made), then serve, appending each new request to the recording.
set -eu
mkdir -p /data
touch "$MOTO_RECORDER_FILEPATH"
# moto's threaded server appends each entry and its newline in separate writes, so two
# requests at once can leave two entries on one line: put each back on its own line.
python - "$MOTO_RECORDER_FILEPATH" <<'PY'
import json
import sys

path = sys.argv[1]
text = open(path).read()
decoder, entries, at = json.JSONDecoder(), [], 0
while True:
    while at < len(text) and text[at].isspace():
        at += 1
    if at >= len(text):
        break
    try:
        entry, at = decoder.raw_decode(text, at)
    except json.JSONDecodeError:
        break  # a write cut short by a kill: everything before it is kept
    entries.append(json.dumps(entry))
with open(path, "w") as out:
    out.write("".join(line + "\n" for line in entries))
PY
moto_server -H 0.0.0.0 -p 9000 &
server=$!
trap 'kill -TERM "$server"' TERM INT
for _ in $(seq 100); do
  python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9000/moto-api/')" 2>/dev/null && break
  sleep 0.2
done
python -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:9000/moto-api/recorder/replay-recording', method='POST'))"
# The health check looks for this marker, so nothing writes before the replay is done.
echo "s3: replayed $(wc -l <"$MOTO_RECORDER_FILEPATH") recorded requests; ready" | tee /tmp/ready
wait "$server"
