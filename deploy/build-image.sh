#!/usr/bin/env bash
# Builds the container image on this machine, where no image registry is
# reachable: the Containerfile's build stage (a Rust builder image) cannot be
# pulled, so the release binary is compiled here, deploy/rootfs.sh assembles
# the same tree the build stage would, and `podman build --build-context`
# hands that tree in as the `build` stage. The run stage is FROM scratch, so
# nothing is pulled at all.
#
#   deploy/build-image.sh [--smoke] [TAG]
#
# --smoke then runs the image the way deploy/README.md says (read-only root,
# a volume, the numeric user, a passphrase root key from a mounted file) and
# waits for its HEALTHCHECK to pass. On this sandbox's kernel podman cannot
# run containers as it is (see README.md, "What runs where"): the smoke test
# works around it in a private mount namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
if [[ ${1:-} == --smoke ]]; then
    smoke=true
    shift
fi
tag=${1:-localhost/strongroom:latest}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/strongroom-target}

if ! command -v podman >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah >/dev/null
fi

cargo build --release --locked -p strongroom
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh deploy/rootfs.sh "$CARGO_TARGET_DIR/release/strongroom" "$work/out"
mkdir "$work/context"
# The build context is empty: the run stage copies only from the build stage.
# Docker format: the OCI image format has no HEALTHCHECK (podman drops it).
podman build --format docker --build-context build="$work" -f deploy/Containerfile -t "$tag" "$work/context"
podman image inspect "$tag" --format 'user {{.Config.User}}, healthcheck {{.Config.Healthcheck.Test}}, size {{.Size}} bytes'

if ! $smoke; then
    exit 0
fi

# crun refuses to start here for two reasons this works around: the sandbox
# lacks CAP_SYS_RESOURCE, so raising RLIMIT_NOFILE/NPROC to podman's defaults
# fails (the limits are set to the current ones or below instead), and the
# host mounts cgroup v1 beside a cgroup2 hierarchy with a controller ("hybrid
# mode", which crun rejects); unmounting that cgroup2 in a mount namespace of
# our own leaves the host untouched.
name=strongroom-smoke-$$
printf 'a passphrase long enough for the smoke test\n' > "$work/passphrase"
chmod 0644 "$work/passphrase"
limits=(--ulimit "nofile=$(ulimit -n):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
unshare -m --propagation private bash -euo pipefail -c '
    umount /sys/fs/cgroup/unified 2>/dev/null || true
    name=$1 tag=$2 secret=$3; shift 3
    podman volume rm -f "$name" >/dev/null 2>&1 || true
    # The health check is run by hand below: podman schedules it with
    # systemd timers, and systemd is not running here.
    podman run -d --name "$name" --read-only --network slirp4netns --cap-drop all \
        --security-opt no-new-privileges --health-interval disable "$@" \
        -v "$name:/var/lib/strongroom" -v "$secret:/run/secrets/root-key-passphrase:ro" \
        -e STRONGROOM_PROFILE=production -e STRONGROOM_SERVER_TRUSTED_PROXY=10.0.0.10 \
        -e STRONGROOM_ROOT_KEY_PROVIDER=passphrase \
        -e STRONGROOM_ROOT_KEY_PASSPHRASE_FILE=/run/secrets/root-key-passphrase \
        "$tag" >/dev/null
    cleanup() { podman rm -f "$name" >/dev/null 2>&1; podman volume rm -f "$name" >/dev/null 2>&1; }
    trap cleanup EXIT
    for _ in $(seq 60); do
        if podman healthcheck run "$name" >/dev/null 2>&1; then
            echo "smoke: healthy; user $(podman inspect "$name" --format "{{.Config.User}}"), read-only root $(podman inspect "$name" --format "{{.HostConfig.ReadonlyRootfs}}")"
            podman logs "$name" 2>&1 | tail -n 2
            exit 0
        fi
        sleep 1
    done
    echo "smoke: the health check never passed" >&2
    podman logs "$name" >&2 || true
    exit 1
' smoke "$name" "$tag" "$work/passphrase" "${limits[@]}"
