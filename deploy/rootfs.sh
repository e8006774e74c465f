#!/bin/sh
# Assembles the run stage's whole root filesystem in OUT: the binary, the
# shared libraries it links (as `ldd` lists them), the CA bundle for outbound
# TLS (S3, KMS, Vault, PostgreSQL), a passwd entry for the numeric user, and
# the state directory. No shell, no package manager, nothing else: the image
# is FROM scratch plus this tree.
#
# Used by the Containerfile's build stage and by build-image.sh, so the image
# is the same whether the binary was compiled inside a builder image or here.
#
#   deploy/rootfs.sh target/release/strongroom OUT
#
# OUT/rootfs is the tree owned by root, OUT/state holds the state directory
# (`strongroom`, to be placed in /var/lib and owned by the service user).
set -eu

bin=$1
out=$2/rootfs
state=$2/state
uid=${STRONGROOM_UID:-10001}

rm -rf "$out" "$state"
mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/var/lib" "$state/strongroom"
cp "$bin" "$out/usr/local/bin/strongroom"
strip "$out/usr/local/bin/strongroom" 2>/dev/null || true

# Every library ldd resolves (`name => /path (addr)`) and the dynamic loader
# (`/lib64/ld-linux-x86-64.so.2 (addr)`), each at the path the binary asks for.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
    while read -r lib; do
        mkdir -p "$out$(dirname "$lib")"
        cp -L "$lib" "$out$lib"
    done

# object_store's HTTP client trusts the platform's CA bundle.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
fi

# A name for the numeric user, for tools that print it; nothing needs a home
# or a login shell.
printf 'root:x:0:0::/:/nonexistent\nstrongroom:x:%s:%s::/var/lib/strongroom:/nonexistent\n' "$uid" "$uid" \
    > "$out/etc/passwd"
printf 'root:x:0:\nstrongroom:x:%s:\n' "$uid" > "$out/etc/group"
printf 'hosts: files dns\n' > "$out/etc/nsswitch.conf"

# The only writable place: private to the service user (doctor fails on a
# data dir group or others can read).
chmod 0700 "$state/strongroom"
