#!/bin/sh
# Install what fixedram needs to build and to run its whole test suite on a
# Debian bookworm (or newer Debian/Ubuntu) machine.  Idempotent; needs root
# (or sudo).  QEMU >= 9.0 and libvirt 11 come from bookworm-backports there.
set -eu

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

build_pkgs="build-essential autoconf automake pkg-config libzstd-dev
    libxxhash-dev zstd xxhash python3 gzip bzip2 xz-utils lzop xxd
    procps debootstrap"
vm_pkgs="qemu-system-x86 qemu-utils qemu-system-arm qemu-system-ppc qemu-system-s390x
    ovmf libvirt-daemon-driver-qemu libvirt-clients libvirt-daemon"

# bookworm's own QEMU is 7.2: add the backports suite, reusing the URIs of
# the existing Debian source (deb822 or one-line format).
. /etc/os-release
backports=
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
    backports=bookworm-backports
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list \
            /etc/apt/sources.list.d/; then
        uri=$(grep -rhs '^URIs:.*debian/\?$' /etc/apt/sources.list.d/*.sources \
              | head -n 1 | sed 's/^URIs:[[:space:]]*//')
        if [ -z "$uri" ]; then
            uri=$(grep -hs '^deb .*debian/\? bookworm ' /etc/apt/sources.list \
                  | head -n 1 | awk '{print $2}')
        fi
        : "${uri:=http://deb.debian.org/debian}"
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$uri" | $SUDO tee /etc/apt/sources.list.d/fixedram-backports.sources >/dev/null
    fi
fi

$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $build_pkgs >/dev/null
if [ -n "$backports" ]; then
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq -t "$backports" $vm_pkgs >/dev/null
else
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq $vm_pkgs >/dev/null
fi

# An older QEMU without mapped-ram nor the file: URI, as the peer of the
# exec: tests (tests/cli/0813): bookworm's own 7.2, unpacked next to the
# system's QEMU, not installed over it.  Optional: the test skips without.
OLD_QEMU_DIR=/opt/fixedram/qemu-7.2
if [ -n "$backports" ] && [ ! -x "$OLD_QEMU_DIR/qemu-system-x86_64" ]; then
    tmp=$(mktemp -d)
    if (cd "$tmp" && $SUDO apt-get download -qq -o APT::Sandbox::User=root \
            qemu-system-x86/bookworm qemu-system-common/bookworm \
            qemu-system-data/bookworm); then
        # its shared libraries, where the system's QEMU did not bring them
        libs=$(dpkg-deb -f "$tmp"/qemu-system-x86_*.deb Depends |
               tr ',' '\n' | sed 's/^ *//; s/[ |(].*//' | grep '^lib')
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -qq --no-upgrade $libs >/dev/null ||
            echo "install-deps: note: some libraries of QEMU 7.2 are" \
                 "missing; test 0813 may skip" >&2
        $SUDO mkdir -p "$OLD_QEMU_DIR/root"
        for deb in "$tmp"/*.deb; do
            $SUDO dpkg -x "$deb" "$OLD_QEMU_DIR/root"
        done
        printf '#!/bin/sh\nexport QEMU_MODULE_DIR=%s\nexec %s -L %s -L /usr/share/seabios "$@"\n' \
            "$OLD_QEMU_DIR/root/usr/lib/x86_64-linux-gnu/qemu" \
            "$OLD_QEMU_DIR/root/usr/bin/qemu-system-x86_64" \
            "$OLD_QEMU_DIR/root/usr/share/qemu" |
            $SUDO tee "$OLD_QEMU_DIR/qemu-system-x86_64" >/dev/null
        $SUDO chmod 755 "$OLD_QEMU_DIR/qemu-system-x86_64"
    else
        echo "install-deps: note: cannot fetch bookworm's QEMU 7.2;" \
             "test 0813 will skip" >&2
    fi
    rm -rf "$tmp"
fi

# A newer QEMU than the system's, as the peer of tests/cli/0817: Debian
# testing's (forky: QEMU 11), in a minimal tree of its own, run with that
# tree's dynamic loader and libraries (its glibc is newer than the
# system's), not installed over the system.  Optional: the test skips
# without it.  About 3 minutes and 340 MB.
NEW_QEMU_DIR=/opt/fixedram/qemu-next
if [ -n "$backports" ] && [ ! -x "$NEW_QEMU_DIR/qemu-system-x86_64" ]; then
    uri=$(grep -rhs '^URIs:.*debian/\?$' /etc/apt/sources.list.d/*.sources \
          | head -n 1 | sed 's/^URIs:[[:space:]]*//')
    : "${uri:=http://deb.debian.org/debian}"
    root=$NEW_QEMU_DIR/root
    $SUDO rm -rf "$root"
    # bookworm's debootstrap has no script named forky; sid's fits
    if $SUDO debootstrap --variant=minbase --include=qemu-system-x86 \
            forky "$root" "$uri" /usr/share/debootstrap/scripts/sid \
            > /tmp/fixedram-debootstrap.log 2>&1; then
        printf '#!/bin/sh\nexport QEMU_MODULE_DIR=%s\nexec %s --library-path %s %s -L %s -L %s "$@"\n' \
            "$root/usr/lib/x86_64-linux-gnu/qemu" \
            "$root/usr/lib64/ld-linux-x86-64.so.2" \
            "$root/usr/lib/x86_64-linux-gnu" \
            "$root/usr/bin/qemu-system-x86_64" \
            "$root/usr/share/qemu" "$root/usr/share/seabios" |
            $SUDO tee "$NEW_QEMU_DIR/qemu-system-x86_64" >/dev/null
        $SUDO chmod 755 "$NEW_QEMU_DIR/qemu-system-x86_64"
        $SUDO rm -rf "$root/var/cache/apt/archives"/*.deb
    else
        tail -n 5 /tmp/fixedram-debootstrap.log >&2
        echo "install-deps: note: cannot set up Debian testing's QEMU;" \
             "test 0817 will skip" >&2
    fi
fi
