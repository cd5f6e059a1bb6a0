#!/bin/sh
# Make a Debian Bookworm root file system into the hub's image: Debian's python3 and
# mosquitto, a venv with nursery-monitor[hub], the non-root user `nursery` (uid 10001) and
# the data volume /data. Run inside the root: by the Containerfile's RUN, or in a chroot by
# scripts/build-image. Usage: setup-rootfs.sh SPEC CONSTRAINTS
#   SPEC: a nursery-monitor wheel or source folder; CONSTRAINTS: the checkout's constraints.txt
# pip reads its index from the environment (scripts/build-image gives it a local wheelhouse).
set -eu
spec=$1
constraints=$2
export DEBIAN_FRONTEND=noninteractive

echo "setup-rootfs: apt-get install python3 python3-venv mosquitto ca-certificates tzdata…"
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  python3 python3-venv mosquitto ca-certificates tzdata >/dev/null

echo "setup-rootfs: installing nursery-monitor[hub] into /opt/nursery…"
python3 -m venv /opt/nursery
/opt/nursery/bin/python -m pip install --quiet --no-cache-dir --disable-pip-version-check \
  --constraint "$constraints" "${spec}[hub]"

# The entrypoint, on PATH for `podman exec … nursery-container adduser NAME`.
cat >/usr/local/bin/nursery-container <<'SCRIPT'
#!/bin/sh
exec /opt/nursery/bin/python -m nursery.container "$@"
SCRIPT
chmod 0755 /usr/local/bin/nursery-container

# The hub's own user, with a fixed uid so a volume keeps its owner across images.
groupadd --system --gid 10001 nursery
useradd --system --uid 10001 --gid nursery --home-dir /data --no-create-home \
  --shell /usr/sbin/nologin nursery
mkdir -p /data
chown nursery:nursery /data
chmod 0700 /data

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /root/.cache
echo "setup-rootfs: done"
