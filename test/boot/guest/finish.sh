#!/bin/sh
# Waits until kubelet.service runs and, where the boot test runs the kubelet container (the
# kubelet-container marker file names the runtime), until that runtime reports the container
# running, then runs typhoon-agent-verify.service once (as its daily timer would) and, on a
# controller, the etcd check (boot/etcd.ts); gives up when typhoon-agent.service failed (the
# "rejected" boot starts this only after the good re-upload was picked up), when
# kubelet.service had to be restarted, or after WAIT_SECONDS. The exit status becomes the
# unit's result (both power the machine off).
WAIT_SECONDS=240
HARNESS=/usr/local/lib/typhoon-boot-test
container_up() {
  case "$(cat "$HARNESS/kubelet-container" 2>/dev/null)" in
    "") return 0 ;;
    # podman's own journal event: asking podman itself costs seconds under QEMU TCG
    podman) journalctl --quiet --no-pager --output=cat PODMAN_EVENT=start PODMAN_NAME=kubelet | grep -q . ;;
    docker) [ "$(docker inspect --format '{{.State.Running}}' kubelet 2>/dev/null)" = true ] ;;
  esac
}
waited=0
while [ "$waited" -lt "$WAIT_SECONDS" ]; do
  if systemctl is-active --quiet kubelet.service && container_up; then
    echo "boot test: kubelet is up after ${waited}s"
    # What the daily timer starts, once now: the installed node must pass its own check.
    systemctl start typhoon-agent-verify.service || { echo "boot test: typhoon-agent-verify.service failed"; exit 1; }
    # A controller's etcd must run from the certificates apply installed, and the apiserver's
    # uid must reach it (boot/etcd.ts installs both units on controllers only).
    if [ -e /etc/systemd/system/boot-test-etcd-check.service ]; then
      systemctl start boot-test-etcd-check.service || { echo "boot test: etcd did not start from the installed certificates, or the apiserver's uid could not reach it"; exit 1; }
    fi
    exit 0
  fi
  if systemctl is-failed --quiet typhoon-agent.service; then echo "boot test: typhoon-agent.service failed"; exit 1; fi
  if [ "$(systemctl show --property=NRestarts --value kubelet.service)" != 0 ]; then echo "boot test: kubelet.service failed"; exit 1; fi
  sleep 1
  waited=$((waited + 1))
done
echo "boot test: kubelet not up after ${WAIT_SECONDS}s"
exit 1
