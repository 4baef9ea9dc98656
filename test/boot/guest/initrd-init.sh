#!/bin/busybox sh
# /init of the boot test's initrd: load the virtio block driver, mount the root disk and,
# on a first boot (kernel argument ignition.firstboot), run the real Ignition on it the way
# Fedora CoreOS's initrd does (config from QEMU fw_cfg opt/com.coreos/config), then switch
# to the root's systemd. Fedora CoreOS also runs Ignition's disks, mount and kargs stages;
# a plain ext4 root needs none of them.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
modprobe virtio_pci
modprobe virtio_blk

root=/dev/vda
platform=qemu
firstboot=
for argument in $(cat /proc/cmdline); do
  case "$argument" in
    root=*) root=${argument#root=} ;;
    ignition.firstboot) firstboot=1 ;;
    ignition.platform.id=*) platform=${argument#ignition.platform.id=} ;;
  esac
done

tries=0
while [ ! -b "$root" ] && [ "$tries" -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
mount -t ext4 -o rw "$root" /sysroot || { echo "initrd: cannot mount $root"; poweroff -f; }

if [ -n "$firstboot" ]; then
  for stage in fetch-offline files; do
    ignition -platform "$platform" -stage "$stage" -root /sysroot -log-to-stdout \
      || { echo "initrd: IGNITION STAGE $stage FAILED"; umount /sysroot; poweroff -f; }
  done
fi

mount --move /dev /sysroot/dev
umount /proc /sys
exec switch_root /sysroot /sbin/init
