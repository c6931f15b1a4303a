#!/usr/bin/env bash
# Sanduq installer.
#   ./install.sh --demo   install into ./.venv and serve the demo library at http://localhost:8080/
#   ./install.sh --dev    install into ./.venv with what the tests need (used by .ci/run)
#   sudo ./install.sh --box [OPTIONS]   make this Raspberry Pi OS (Bookworm) machine a Sanduq box:
#     --trusted-key FILE    trust this minisign public key for USB updates (repeatable)
#     --wheels DIR          install Sanduq offline from a folder of wheels made on a Pi of the same
#                           kind with internet: python3 -m pip wheel -w DIR /path/to/sanduq
#     --hotspot-ssid S --hotspot-passphrase P --country CC [--hotspot-backend networkmanager|hostapd]
#                           also make the box's Wi-Fi a hotspot (started at the next boot)
#     --root DIR            stage every file under DIR instead; run nothing (tests, image builders)
#   Running --box again upgrades in place and keeps the library and /etc/sanduq/sanduq.toml.
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

# ---------------------------------------------------------------------------------------
# The box: a system user, /opt/sanduq, /var/lib/sanduq, /etc/sanduq, the units, the hotspot.
# With --root DIR every file goes under DIR and each command that would change the running
# system (apt-get, useradd, chown, pip, systemctl, udevadm) is only listed in
# DIR/sanduq-install-plan.txt, so that two runs leave the same bytes.

root=""
wheels=""
keys=()
ssid=""
passphrase=""
country=""
backend=""
opt=/opt/sanduq
data=/var/lib/sanduq
config=/etc/sanduq/sanduq.toml
box_venv="$opt/venv"
plan=""
# Settings where the box differs from the defaults of server/settings.py.
box_settings=(port=80 mdns=true)

# Run a command that changes the system, or under --root only write it down.
act() {
    if [ -n "$root" ]; then
        printf '%s\n' "$*" >>"$plan"
    else
        "$@"
    fi
}

parse_box_options() {
    while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || die "$1 needs a value; see ./install.sh --help."
        case "$1" in
            --root) root=$2 ;;
            --wheels) wheels=$2 ;;
            --trusted-key) keys+=("$2") ;;
            --hotspot-ssid) ssid=$2 ;;
            --hotspot-passphrase) passphrase=$2 ;;
            --country) country=$2 ;;
            --hotspot-backend) backend=$2 ;;
            *) die "Unknown option $1; see ./install.sh --help." ;;
        esac
        shift 2
    done
    if [ -n "$ssid$passphrase$country$backend" ] && { [ -z "$ssid" ] || [ -z "$passphrase" ] || [ -z "$country" ]; }; then
        die "A hotspot needs all three of --hotspot-ssid, --hotspot-passphrase and --country."
    fi
    case "$backend" in
        ""|networkmanager|hostapd) ;;
        *) die "--hotspot-backend is networkmanager or hostapd, not $backend." ;;
    esac
    if [ -n "$wheels" ] && [ ! -d "$wheels" ]; then
        die "--wheels $wheels is not a folder; give the folder of wheels made with 'pip wheel'."
    fi
    local key
    for key in "${keys[@]}"; do
        check_key "$key"
    done
}

# A minisign public key: a comment line, then "RW" and 54 more base64 characters.
check_key() {
    if [ ! -f "$1" ] || [ ! -r "$1" ]; then
        die "The trusted key $1 is not a file that can be read."
    fi
    case "$1" in
        *.pub) ;;
        *) die "The trusted key $1 should be a minisign public key file named NAME.pub." ;;
    esac
    if [ "$(wc -l <"$1")" -gt 2 ] || ! sed -n 2p "$1" | grep -Eq '^RW[A-Za-z0-9+/]{54}$'; then
        die "$1 is not a minisign public key (two lines, the second starting with RW)."
    fi
}

check_system() {
    if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
        die "Run the box installer as root: sudo ./install.sh --box (or stage it with --root DIR)."
    fi
    local release="" id version pretty
    for release in "$root/etc/os-release" "$root/usr/lib/os-release" /etc/os-release; do
        [ -f "$release" ] && break
    done
    # Read, never sourced: it is only data.
    id=$(sed -n 's/^ID=//p' "$release" 2>/dev/null | tr -d '"')
    version=$(sed -n 's/^VERSION_ID=//p' "$release" 2>/dev/null | tr -d '"')
    pretty=$(sed -n 's/^PRETTY_NAME=//p' "$release" 2>/dev/null | tr -d '"')
    case "$id:$version" in
        debian:12|raspbian:12) ;;
        *) die "The box installer needs Raspberry Pi OS or Debian 12 (Bookworm), and this is ${pretty:-an unknown system}." ;;
    esac
    command -v python3 >/dev/null || die "python3 is missing: install it with 'apt-get install python3'."
}

box_packages() {
    # python3-venv for /opt/sanduq/venv; util-linux and mount for sanduq-mount (blkid,
    # findmnt, mountpoint, mount); exfatprogs to check exFAT sticks (the kernel mounts them).
    # fonts-sil-andika: Andika, which Bloom books are written in; the box serves it to phones.
    local packages=(python3-venv util-linux mount exfatprogs fonts-sil-andika)
    if [ -n "$ssid" ] && [ "$backend" = hostapd ]; then
        packages+=(hostapd dnsmasq)
    fi
    if [ -n "$root" ]; then
        act apt-get install -y "${packages[@]}" minisign
        return
    fi
    local missing=() pkg
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "Installing ${missing[*]} ..."
        apt-get update -qq \
            || die "apt-get cannot reach the package servers: connect the box to the internet, or install ${missing[*]} from a local mirror and run again with --wheels DIR to install Sanduq from a folder of wheels."
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
            || die "Installing ${missing[*]} failed; see the apt-get messages above."
    fi
    # minisign is only for people checking signatures by hand: welcome, never required.
    if ! dpkg-query -W -f='${Status}' minisign 2>/dev/null | grep -q "ok installed"; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq minisign >/dev/null 2>&1 \
            || say "Note: minisign could not be installed; the box does not need it."
    fi
}

box_user() {
    if [ -n "$root" ] || ! getent passwd sanduq >/dev/null; then
        act useradd --system --user-group --home-dir "$data" --no-create-home --shell /usr/sbin/nologin sanduq
    fi
}

# /opt/sanduq/venv: the Python packages. Not staged under --root: a virtual environment
# names its own absolute path inside, so one built under DIR would not work at /opt.
box_venv() {
    local py="$box_venv/bin/python" source=("$here") log
    local pip=(-m pip install --quiet --disable-pip-version-check --no-input)
    if [ -n "$wheels" ]; then
        pip+=(--no-index --find-links "$(cd "$wheels" && pwd)")
        source=(sanduq)
    fi
    if [ -n "$root" ]; then
        act python3 -m venv "$box_venv"
        act "$py" "${pip[@]}" --upgrade "${source[@]}"
        act "$py" "${pip[@]}" --force-reinstall --no-deps "${source[@]}"
        return
    fi
    # A venv made by another Python (before a system upgrade) is made anew.
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        rm -rf "$box_venv"
        python3 -m venv "$box_venv" || die "Making the virtual environment $box_venv failed; is python3-venv installed?"
    fi
    log=$(mktemp)
    say "Installing Sanduq's Python packages into $box_venv ..."
    # Dependencies as needed, then Sanduq itself always (its version may not have changed).
    if ! { "$py" "${pip[@]}" --upgrade "${source[@]}" \
           && "$py" "${pip[@]}" --force-reinstall --no-deps "${source[@]}"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        if [ -n "$wheels" ]; then
            die "pip could not install Sanduq from $wheels (above); it needs the sanduq wheel and every dependency's, for this Python and this processor."
        fi
        die "pip could not install Sanduq (above); without internet, install from a folder of wheels: sudo ./install.sh --box --wheels DIR (see ./install.sh --help)."
    fi
    rm -f "$log"
}

# Copy a file of this repository to PATH on the box with MODE, replacing what was there.
put() {
    install -D -m "$3" "$here/$1" "$root$2"
}

box_files() {
    install -d -m 0755 "$root$opt" "$root$opt/libexec" "$root$opt/libexec/usb-path"
    put systemd/sanduq-mount "$opt/libexec/sanduq-mount" 0755
    put systemd/sanduq-umount "$opt/libexec/usb-path/umount" 0755
    put systemd/sanduq-clock "$opt/libexec/sanduq-clock" 0755
    local unit
    for unit in sanduq-server.service sanduq-usb.service sanduq-mount@.service \
                sanduq-unmount.path sanduq-unmount.service sanduq-clock.path sanduq-clock.service; do
        put "systemd/$unit" "/etc/systemd/system/$unit" 0644
    done
    put systemd/99-sanduq-usb.rules /etc/udev/rules.d/99-sanduq-usb.rules 0644
    put systemd/sanduq.tmpfiles /etc/tmpfiles.d/sanduq.conf 0644

    # The library: the services' own, but its trusted keys root's (the units mount them
    # read-only too), so no service can come to trust a key of its own.
    install -d -m 0750 "$root$data"
    act chown sanduq:sanduq "$data"
    install -d -m 0755 "$root$data/trusted-keys"
    local key
    for key in "${keys[@]}"; do
        install -m 0644 "$key" "$root$data/trusted-keys/$(basename "$key")"
    done
}

# /etc/sanduq/sanduq.toml, written from the settings table itself so that it never lists a
# setting that is not there or misses one; an existing file is the technician's and is kept.
box_config() {
    install -d -m 0755 "$root/etc/sanduq"
    if [ -e "$root$config" ]; then
        say "Kept $config as it is."
        return
    fi
    local py=("$box_venv/bin/python")
    if [ -n "$root" ]; then
        py=(env "PYTHONPATH=$here" python3)  # the same code the venv would hold
    fi
    (cd / && "${py[@]}" - "${box_settings[@]}" >"$root$config.new") <<'PY' || die "Writing $config failed (above)."
import json
import sys

from server.settings import SETTINGS


def toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string


box = {}
by_name = {s.name: s for s in SETTINGS}
for pair in sys.argv[1:]:
    name, text = pair.split("=", 1)
    box[name] = by_name[name].parse(text)

print("# Sanduq's settings, read by sanduq-server and sanduq-usb when they start. After a change:")
print("#   sudo systemctl restart sanduq-server sanduq-usb")
print("# A SANDUQ_<NAME> environment variable overrides a setting (see sanduq-server --help).")
for s in SETTINGS:
    value = box.get(s.name, s.default)
    note = "" if value == s.default else f" (default {toml(s.default)}; a box uses {toml(value)})"
    print()
    print(f"# {s.help}{note}")
    print(f"{s.name} = {toml(value)}")
PY
    chmod 0644 "$root$config.new"
    mv "$root$config.new" "$root$config"
    say "Wrote $config."
}

box_hotspot() {
    [ -n "$ssid" ] || return 0
    if [ -z "$backend" ]; then
        backend=networkmanager
        if [ -z "$root" ] && ! command -v nmcli >/dev/null; then
            backend=hostapd
        fi
    fi
    local args=(hotspot --ssid "$ssid" --passphrase "$passphrase" --country "$country" --backend "$backend")
    if [ -n "$root" ]; then
        # No venv under --root: the same code from this repository.
        (cd / && PYTHONPATH="$here" python3 -m provisioning "${args[@]}" --root "$root") >&2 \
            || die "The hotspot was not set up (above)."
        return
    fi
    "$box_venv/bin/sanduq-provision" "${args[@]}" >&2 || die "The hotspot was not set up (above)."
    # Started at the next boot, not now: a technician on this Wi-Fi would be cut off.
    if [ "$backend" = networkmanager ]; then
        nmcli connection reload
    else
        systemctl unmask hostapd
        systemctl enable systemd-networkd dnsmasq hostapd
    fi
    say "The hotspot $ssid starts at the next boot: sudo reboot."
}

box_start() {
    act systemd-tmpfiles --create /etc/tmpfiles.d/sanduq.conf
    act systemctl daemon-reload
    act udevadm control --reload
    act systemctl enable sanduq-server.service sanduq-usb.service sanduq-unmount.path sanduq-clock.path
    act systemctl restart sanduq-unmount.path sanduq-clock.path sanduq-server.service sanduq-usb.service
    [ -z "$root" ] || return 0
    say "Waiting for the library to answer ..."
    local i
    for i in $(seq 30); do
        if "$box_venv/bin/python" -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1/healthz", timeout=2)' 2>/dev/null; then
            say "Sanduq is running: http://$(hostname -I 2>/dev/null | cut -d' ' -f1)/ (logs: journalctl -u sanduq-server -u sanduq-usb)"
            return 0
        fi
        sleep "$((i < 10 ? 1 : 2))"
    done
    die "sanduq-server did not answer on port 80; see: journalctl -u sanduq-server"
}

box() {
    parse_box_options "$@"
    if [ -n "$root" ]; then
        mkdir -p "$root"
        root=$(cd "$root" && pwd)
        plan="$root/sanduq-install-plan.txt"
        : >"$plan"
    fi
    check_system
    box_packages
    box_user
    box_venv
    box_files
    box_config
    box_hotspot
    box_start
    if [ -n "$root" ]; then
        say "Staged under $root; what would have run is in $plan."
    fi
}

case "${1:-}" in
    --demo)
        # fonts-sil-andika: the font Bloom books are written in, served by the box to phones.
        apt_install fonts-sil-andika
        make_venv ""
        exec "$venv/bin/sanduq-server" --demo --data-dir "$here/demo-data" --host 0.0.0.0 --port "$port"
        ;;
    --dev)
        # What the tests drive for real: Debian's Chromium (through Playwright, no browser
        # download); the stock minisign; real stick filesystems (ext4, FAT32 through FUSE,
        # exFAT) made and mounted inside private mount namespaces; hostapd's and dnsmasq's own
        # parsers, dnsmasq and a DHCP client (busybox) in network namespaces, dig, NetworkManager's
        # keyfile reader, zbar to read the poster's QR codes back; systemd-analyze, udevadm
        # and the shell linter for the units and scripts; Unicode's emoji data (which symbols
        # old phones have) and a colour emoji font, so screenshots show what a phone shows;
        # poppler-utils, with which `sanduq-mirror import-pdf` draws and reads PDF storybooks
        # (rsvg-convert makes the tests' PDFs, in fontconfig's DejaVu Sans for their Cyrillic);
        # ffmpeg, with which `sanduq-mirror build` makes videos fit for phones and books into
        # take-home videos (rsvg-convert draws their pages and the take-home cards); tesseract
        # with its Tajik and Russian data, which reads the cards back; Andika, which Bloom books
        # are written in; Node, whose own parser checks the players' code is ES2017; PostgreSQL,
        # a throwaway cluster of which receives sanduq-report's push.
        apt_install chromium minisign e2fsprogs dosfstools mtools fusefat fuse3 exfatprogs exfat-fuse \
            util-linux mount hostapd dnsmasq-base iproute2 busybox bind9-dnsutils librsvg2-bin zbar-tools \
            python3-gi gir1.2-nm-1.0 systemd udev shellcheck unicode-data fonts-noto-color-emoji poppler-utils ffmpeg \
            fonts-sil-andika nodejs tesseract-ocr tesseract-ocr-tgk tesseract-ocr-rus postgresql
        make_venv "[test]"
        say "Installed into $venv"
        ;;
    --box)
        shift
        box "$@"
        ;;
    -h|--help|"")
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        die "Unknown option $1; see ./install.sh --help."
        ;;
esac
