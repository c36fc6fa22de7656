#!/usr/bin/env bash
# Build and install TimescaleDB (Apache-2 edition) into the system PostgreSQL 15.
#
# Why from source: Debian 12 ships no TimescaleDB package and only the Debian registry is
# reachable, so we take Debian trixie's source package and build it against bookworm's
# PostgreSQL 15 (the binaries crypto_assets.warehouse.server prefers).
#
# Idempotent: exits at once when timescaledb.so is already installed.
# Leaves the machine's apt sources untouched: the trixie deb-src line lives in a private
# sources file and list directory under a temp dir that is removed on exit.
#
# Env: PG_MAJOR (default 15), TIMESCALEDB_SOURCE_VERSION (default: whatever trixie has).
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
TARGET="/usr/lib/postgresql/${PG_MAJOR}/lib/timescaledb.so"

if [[ -e "$TARGET" ]]; then
    echo "install-timescaledb: $TARGET already present, nothing to do"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-timescaledb: must run as root (apt-get install, make install)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
log() { echo "install-timescaledb [$(( $(date +%s) - start ))s]: $*"; }

# --- the Debian mirror this machine already uses ----------------------------------------------
find_mirror() {
    local f uri
    # deb822 files: first URIs: whose stanza is not a -security one.
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -e "$f" ]] || continue
        uri=$(awk '
            /^[[:space:]]*$/ { if (uri != "" && suites !~ /security/ && uri ~ /debian/) { print uri; exit } uri=""; suites=""; next }
            /^URIs:/   { uri=$2 }
            /^Suites:/ { suites=$0 }
            END        { if (uri != "" && suites !~ /security/ && uri ~ /debian/) print uri }
        ' "$f" | head -n1)
        if [[ -n "$uri" ]]; then echo "$uri"; return; fi
    done
    # one-line format.
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -e "$f" ]] || continue
        uri=$(awk '$1 == "deb" && $0 !~ /security/ {
                   for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file|ftp):/) { print $i; exit } }' "$f" | grep debian | head -n1 || true)
        if [[ -n "$uri" ]]; then echo "$uri"; return; fi
    done
    echo "http://deb.debian.org/debian"
}
MIRROR="$(find_mirror)"
MIRROR="${MIRROR%/}"
log "using Debian mirror $MIRROR"

# --- build dependencies (normal apt, machine sources) ------------------------------------------
log "apt-get update"
apt-get update -qq
pkgs=(postgresql-server-dev-"$PG_MAJOR" cmake libkrb5-dev libssl-dev build-essential dpkg-dev)
if [[ ! -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ]]; then
    pkgs+=(postgresql-"$PG_MAJOR")
fi
log "apt-get install ${pkgs[*]}"
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null

# --- source package from trixie, via a private apt state -------------------------------------
WORK="$(mktemp -d /tmp/timescaledb-build.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/parts" "$WORK/src"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb-src [signed-by=$KEYRING] $MIRROR trixie main" >"$WORK/sources.list"
APT_PRIVATE=(
    -o "Dir::Etc::SourceList=$WORK/sources.list"
    -o "Dir::Etc::SourceParts=$WORK/parts"
    -o "Dir::State::Lists=$WORK/lists"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Sandbox::User=root"
)
log "fetching trixie source index"
apt-get "${APT_PRIVATE[@]}" update -qq
spec="timescaledb"
if [[ -n "${TIMESCALEDB_SOURCE_VERSION:-}" ]]; then
    spec="timescaledb=${TIMESCALEDB_SOURCE_VERSION}"
fi
log "apt-get source --download-only $spec"
(cd "$WORK/src" && apt-get "${APT_PRIVATE[@]}" source --download-only -qq "$spec")
dsc=$(ls "$WORK"/src/timescaledb_*.dsc | head -n1)
log "unpacking $(basename "$dsc")"
(cd "$WORK/src" && dpkg-source --no-check -x "$dsc" tree >/dev/null)

# --- build and install against the system PostgreSQL ------------------------------------------
cd "$WORK/src/tree"
log "configuring"
./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
    -DWARNINGS_AS_ERRORS=OFF -DPG_CONFIG="$PG_CONFIG" >"$WORK/configure.log" 2>&1 \
    || { tail -n 40 "$WORK/configure.log" >&2; exit 1; }
log "building"
make -C build -j"$(nproc)" >"$WORK/build.log" 2>&1 || { tail -n 60 "$WORK/build.log" >&2; exit 1; }
make -C build install >"$WORK/install.log" 2>&1 || { tail -n 40 "$WORK/install.log" >&2; exit 1; }

if [[ ! -e "$TARGET" ]]; then
    echo "install-timescaledb: build finished but $TARGET is missing" >&2
    exit 1
fi
log "installed $(basename "$dsc" .dsc) into $(dirname "$TARGET")"
