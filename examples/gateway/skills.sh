#!/usr/bin/env bash
# Start the example's two skills on 127.0.0.1 (Ctrl-C stops both):
#   - the weather play served as a Bot Framework skill on :3981 (voicehook)
#   - the echo skill written with botbuilder-python 4.17.1 on :3982
# Then run: voicehook gateway examples/gateway/gateway.yaml
set -euo pipefail
cd "$(dirname "$0")/../.."
VOICEHOOK=${VOICEHOOK:-voicehook}
[ -x .venv/bin/voicehook ] && VOICEHOOK=.venv/bin/voicehook
BBPY=$(bash scripts/botbuilder-venv)
"$VOICEHOOK" serve examples/weather --port 3981 --botframework --store memory:// &
WEATHER=$!
"$BBPY" tests/interop/bb_echo_skill.py --port 3982 &
ECHO=$!
trap 'kill $WEATHER $ECHO 2>/dev/null' EXIT INT TERM
wait
