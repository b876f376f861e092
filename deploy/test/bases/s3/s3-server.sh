#!/bin/sh
# moto keeps objects in memory: replay what was recorded before (every write since the volume
# was made), then serve, appending each new request to the recording.
set -eu
mkdir -p /data
touch "$MOTO_RECORDER_FILEPATH"
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
