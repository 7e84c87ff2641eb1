#!/usr/bin/env bash
# Installs a built `aqueduct` binary, its systemd unit, its system user and the example
# config.
#
#   scripts/install.sh BINARY
#
# Environment: PREFIX (default /usr/local) for bin/ and lib/systemd/system/, SYSCONFDIR
# (default /etc) for aqueduct/, DESTDIR (default empty) prepended to every path for
# staged installs and packaging. The unit's paths are rewritten to PREFIX and SYSCONFDIR,
# never to DESTDIR. `make install` calls this with the binary `make release` built, so
# the build runs as the user and only the install as root.
#
# Without DESTDIR (a real install, as root) the system user `aqueduct` is created at once
# with systemd-sysusers and SYSCONFDIR/aqueduct made root:aqueduct 2750, so the service can
# read its config there. With DESTDIR only the sysusers.d file is staged: the package's
# install step applies it (systemd-sysusers), as distributions do.
set -euo pipefail

die() { echo "install.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: scripts/install.sh BINARY"
binary=$1
prefix=${PREFIX:-/usr/local}
sysconfdir=${SYSCONFDIR:-/etc}
destdir=${DESTDIR:-}
source_dir=$(cd "$(dirname "$0")/.." && pwd)

[ -f "$binary" ] && [ -x "$binary" ] || die "$binary is not an executable file (build it first: make release)"
for dir in "$prefix" "$sysconfdir"; do
    case $dir in
        /*) ;;
        *) die "PREFIX and SYSCONFDIR must be absolute paths, got '$dir'" ;;
    esac
    case $dir in
        *'|'* | *'%'* | *[[:space:]]*) die "'$dir' holds a character a unit file path cannot" ;;
    esac
done

bin_dir=$destdir$prefix/bin
unit_dir=$destdir$prefix/lib/systemd/system
sysusers_dir=$destdir$prefix/lib/sysusers.d
conf_dir=$destdir$sysconfdir/aqueduct
doc_dir=$destdir$prefix/share/doc/aqueduct

if [ -z "$destdir" ]; then
    [ "$(id -u)" -eq 0 ] || die "installing without DESTDIR creates a system user: run as root"
    command -v systemd-sysusers >/dev/null || die "systemd-sysusers not found (is this a systemd system?)"
fi

install -d -m 755 "$bin_dir" "$unit_dir" "$sysusers_dir" "$conf_dir" "$doc_dir"
install -m 755 "$binary" "$bin_dir/aqueduct"
install -m 644 "$source_dir/README.md" "$doc_dir/README.md"

unit=$(mktemp)
trap 'rm -f "$unit"' EXIT
sed -e "s|/usr/local/bin/aqueduct|$prefix/bin/aqueduct|g" \
    -e "s|/usr/local/share/doc/aqueduct/|$prefix/share/doc/aqueduct/|g" \
    -e "s|/etc/aqueduct/|$sysconfdir/aqueduct/|g" \
    "$source_dir/packaging/aqueduct.service" > "$unit"
install -m 644 "$unit" "$unit_dir/aqueduct.service"
install -m 644 "$source_dir/aqueduct.example.toml" "$conf_dir/aqueduct.toml.example"
install -m 644 "$source_dir/packaging/aqueduct.sysusers" "$sysusers_dir/aqueduct.conf"
if [ -z "$destdir" ]; then
    systemd-sysusers "$sysusers_dir/aqueduct.conf"
    chown root:aqueduct "$conf_dir"
    chmod 2750 "$conf_dir"
fi

echo "installed:"
echo "  $bin_dir/aqueduct"
echo "  $unit_dir/aqueduct.service"
echo "  $sysusers_dir/aqueduct.conf"
echo "  $conf_dir/aqueduct.toml.example"
echo "  $doc_dir/README.md"
if [ -z "$destdir" ]; then
    echo "  user aqueduct; $sysconfdir/aqueduct is root:aqueduct 2750"
    echo "next: write $sysconfdir/aqueduct/aqueduct.toml (0640, group aqueduct) and node.key (0600)"
    echo "(see the comments at the top of the unit), then:"
    echo "  systemctl daemon-reload && systemctl enable --now aqueduct"
fi
