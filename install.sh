#!/usr/bin/env bash
# Sanduq installer.
#   ./install.sh --demo   install into ./.venv and serve the demo library at http://localhost:8080/
#   ./install.sh --dev    install into ./.venv with what the tests need (used by .ci/run)
# Setting up a whole box (system user, units, hotspot) is issue 5 and not written yet.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="$here/.venv"
port="${SANDUQ_PORT:-8080}"

say() { printf '%s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "Run this as root (or install sudo) so it can install: $*"
    fi
}

# Debian packages, installed only when missing; apt's index is refreshed once.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "Please install these packages first: ${missing[*]}"
    say "Installing ${missing[*]} ..."
    as_root apt-get update -qq || die "apt-get update failed: connect the machine to the internet, or install ${missing[*]} by hand."
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "Installing ${missing[*]} failed; see the apt-get messages above."
}

make_venv() {
    command -v python3 >/dev/null || die "python3 is missing: install it with 'apt-get install python3'."
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Sanduq needs Python 3.11 or newer (Debian 12 / Raspberry Pi OS Bookworm have it)."
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        apt_install python3-venv
    fi
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    local log="$venv/pip.log"
    say "Installing Sanduq's Python packages into $venv ..."
    if ! { "$venv/bin/python" -m pip install -q --upgrade pip \
           && "$venv/bin/python" -m pip install -q -e "$here$1"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "Installing Sanduq's Python packages failed (above, and all of it in $log); check the network (pip needs PyPI) and try again."
    fi
}

case "${1:-}" in
    --demo)
        make_venv ""
        exec "$venv/bin/sanduq-server" --demo --data-dir "$here/demo-data" --host 0.0.0.0 --port "$port"
        ;;
    --dev)
        # What the tests drive for real: Debian's Chromium (through Playwright, no browser
        # download), the stock minisign, and real stick filesystems (ext4, FAT32 through FUSE,
        # exFAT) made and mounted inside private mount namespaces.
        apt_install chromium minisign e2fsprogs dosfstools mtools fusefat fuse3 exfatprogs exfat-fuse util-linux mount
        make_venv "[test]"
        say "Installed into $venv"
        ;;
    -h|--help|"")
        sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        die "Unknown option $1; see ./install.sh --help."
        ;;
esac
