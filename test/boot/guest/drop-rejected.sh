#!/bin/sh
# See boot-test-drop-rejected.service. Exit status: the harness's own failure, not the agent's.
set -eu
assets=/home/core/assets
install -o core -g core -m 0644 /var/lib/typhoon-boot-test/rejected-assets /home/core/.assets.upload
mv /home/core/.assets.upload "$assets"
waited=0
until [ "$(systemctl show --property=Result --value typhoon-agent.service)" = exit-code ]; do
  [ "$waited" -lt 120 ] || { echo "boot test: the rejected bundle was never tried"; exit 1; }
  sleep 1
  waited=$((waited + 1))
done
echo "boot test: typhoon-agent.service failed on the rejected bundle; waiting to see it is not retried"
sleep 5
# in place, as a re-upload over the old file: the same inode, truncated and written
cat /var/lib/typhoon-boot-test/assets > "$assets"
echo "boot test: re-uploaded a good bundle in place"
# picked up by the path unit alone: the service leaves its failed state
waited=0
while systemctl is-failed --quiet typhoon-agent.service; do
  [ "$waited" -lt 60 ] || { echo "boot test: the re-upload was not picked up"; exit 1; }
  sleep 1
  waited=$((waited + 1))
done
