#!/usr/bin/env bash
# The README's set-up as a new user meets it (issue 11, item 7): a fresh
# Debian bookworm root made by debootstrap (minbase + only the README's
# prerequisites: python3, python3-venv, make, git), a clone of this
# repository's HEAD in it, then the README's two commands in a chroot with
# proc, sys, dev and a tmpfs /dev/shm mounted.  Both must pass.
#   sudo .ci/fresh-check.sh          (make fresh-check)
#   FRESH_ROOT=/tmp/mb-fresh keeps the root there (reused: only the clone is new)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
SRC=$(pwd)
ROOTFS=${FRESH_ROOT:-/tmp/mb-fresh-root}
if ! command -v debootstrap >/dev/null; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq;
         apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi
mounts=()
cleanup() {
  for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
if [ ! -x "$ROOTFS/usr/bin/make" ]; then
  t0=$(date +%s)
  rm -rf "$ROOTFS"
  debootstrap --variant=minbase --include=python3,python3-venv,make,git,ca-certificates \
    bookworm "$ROOTFS" >"$ROOTFS.debootstrap.log" 2>&1 \
    || { tail -20 "$ROOTFS.debootstrap.log"; exit 1; }
  echo "fresh-check: debootstrap minbase bookworm in $(( $(date +%s) - t0 )) s"
fi
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
# The one thing taken from this machine: extra CA certificates, where its
# network inspects TLS (as the development workplace does); pip then trusts
# the system bundle.  A new user's machine has none and needs none.
ENVCA=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
  chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1
  ENVCA=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
  echo "fresh-check: this machine's extra CA certificates copied into the root (TLS inspection)"
fi
for m in proc sys dev; do
  mkdir -p "$ROOTFS/$m"
done
mount -t proc proc "$ROOTFS/proc"; mounts+=("$ROOTFS/proc")
mount --rbind /sys "$ROOTFS/sys"; mount --make-rslave "$ROOTFS/sys"; mounts+=("$ROOTFS/sys")
mount --rbind /dev "$ROOTFS/dev"; mount --make-rslave "$ROOTFS/dev"; mounts+=("$ROOTFS/dev")
mkdir -p "$ROOTFS/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$ROOTFS/dev/shm"; mounts+=("$ROOTFS/dev/shm")
# a clone of HEAD, as a new user would get it (no venv, no caches)
rm -rf "$ROOTFS/root/masterbox"
git clone -q --no-hardlinks "$SRC" "$ROOTFS/root/masterbox"
git -C "$ROOTFS/root/masterbox" checkout -q "$(git rev-parse HEAD)"
echo "fresh-check: clone of $(git rev-parse --short HEAD); running the README's commands"
t0=$(date +%s)
chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 "${ENVCA[@]}" bash -c 'cd /root/masterbox && make demo >/tmp/demo.log 2>&1 || { tail -30 /tmp/demo.log; exit 1; }
                        echo "fresh-check: make demo passed"; make test'
echo "fresh-check: make demo and make test passed in the fresh root ($(( $(date +%s) - t0 )) s)"
