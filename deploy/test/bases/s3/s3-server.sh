#!/bin/sh
# moto keeps objects in memory: serve.py replays what was recorded before (every write since
# the volume was made), then serves, appending each new request to the recording.
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
# The server itself: IAM enforced as MinIO enforces it, after the replay (serve.py).
exec python /usr/local/bin/s3-serve.py
