#!/bin/sh
# Entrypoint of the boot test's stand-in kubelet image (busybox, imported with podman
# import, no registry): says it started, then idles like a kubelet until stopped.
echo "stand-in kubelet started: $*"
trap 'exit 0' TERM INT
while :; do sleep 1; done
