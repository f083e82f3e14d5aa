# lib-libvirt.sh -- make real libvirt `virsh save` images at test time.
# Source from a POSIX sh (dash) or bash test script:
#
#   . "$srcdir/tests/libvirt/lib-libvirt.sh"
#   libvirt_require                       # exit 77 (skip) if unusable
#   trap libvirt_cleanup EXIT
#   libvirt_define_vm fr-lv-t1 blob.bin 0x2000000
#   libvirt_dump_ram  fr-lv-t1 src.ram    # optional: RAM before saving
#   libvirt_save      fr-lv-t1 out.img zstd
#   libvirt_restore   out.img fr-lv-t1 dst.ram
#
# Functions return non-zero (with the libvirt error on stderr) on failure;
# only libvirt_require exits.  All domains are transient; names should start
# with $LIBVIRT_PREFIX (default "fr-lv-") so that libvirt_cleanup finds them.
# Requires root (system daemons, qemu runs as root:root).

LIBVIRT_URI=${LIBVIRT_URI:-qemu:///system}
LIBVIRT_PREFIX=${LIBVIRT_PREFIX:-fr-lv-}
LIBVIRT_QEMU=${LIBVIRT_QEMU:-/usr/bin/qemu-system-x86_64}
LIBVIRT_QEMU_CONF=${LIBVIRT_QEMU_CONF:-/etc/libvirt/qemu.conf}
LIBVIRT_MEM_BYTES=134217728          # 128 MiB guest

_lv_virsh() { virsh -q -c "$LIBVIRT_URI" "$@"; }

_lv_skip() { echo "skip: $*" >&2; exit 77; }

_lv_tmpdir() {
    if [ -z "${_LV_TMP:-}" ] || [ ! -d "$_LV_TMP" ]; then
        _LV_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fr-lv.XXXXXX") || return 1
    fi
}

# (Everything below is safe under `set -eu`.)

# Set KEY = "root" in qemu.conf unless an uncommented KEY line exists.
# Prints "changed" when the file was modified.
_lv_conf_set_root() {
    if ! grep -Eq "^[[:space:]]*$1[[:space:]]*=" "$LIBVIRT_QEMU_CONF"; then
        printf '%s = "root"\n' "$1" >>"$LIBVIRT_QEMU_CONF" || return 1
        echo changed
    fi
}

_lv_running() { [ -n "$(pgrep -x "$1" 2>/dev/null)" ]; }

libvirt_require() {
    for _c in virsh libvirtd virtlogd pgrep; do
        command -v "$_c" >/dev/null 2>&1 || _lv_skip "$_c not installed"
    done
    [ -x "$LIBVIRT_QEMU" ] || _lv_skip "$LIBVIRT_QEMU not installed"
    [ "$(id -u)" = 0 ] || _lv_skip "libvirt tests need root (qemu:///system)"
    [ -w "$LIBVIRT_QEMU_CONF" ] || _lv_skip "$LIBVIRT_QEMU_CONF not writable"
    virsh save --help 2>/dev/null | grep -q -- --image-format ||
        _lv_skip "virsh save has no --image-format (libvirt < 11.2)"

    _chg="$(_lv_conf_set_root user)$(_lv_conf_set_root group)" ||
        _lv_skip "cannot edit $LIBVIRT_QEMU_CONF"
    if [ -n "$_chg" ] && _lv_running libvirtd; then
        # qemu.conf is read only at daemon start: restart our (hand-started) daemon
        for _p in $(pgrep -x libvirtd); do kill "$_p"; done
        _i=0; while _lv_running libvirtd && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i+1)); done
    fi
    _lv_running virtlogd || virtlogd -d || _lv_skip "cannot start virtlogd"
    _lv_running libvirtd || libvirtd -d || _lv_skip "cannot start libvirtd"
    _i=0
    until _lv_virsh version >/dev/null 2>&1; do
        _i=$((_i+1))
        [ $_i -gt 150 ] && _lv_skip "libvirtd does not answer on $LIBVIRT_URI"
        sleep 0.2
    done
    return 0
}

# Destroy (and undefine, if persistent) one domain if it exists.  Quiet.
_lv_kill_domain() {
    _lv_virsh domstate "$1" >/dev/null 2>&1 || return 0
    _lv_virsh destroy "$1" >/dev/null 2>&1 || :
    _lv_virsh undefine "$1" >/dev/null 2>&1 || :   # fails for transient: fine
    return 0
}

# _lv_create NAME OS FEATURES EXTRA [virsh create flags]: start transient
# domain NAME (TCG, 128 MiB, 1 vCPU, no disk/net/graphics/balloon) with the
# <os> element OS, the body of <features>, and EXTRA before </domain>.
_lv_create() {
    cat >"$_LV_TMP/$1.xml" <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu>1</vcpu>
  $2
  <features>
    $3
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$LIBVIRT_QEMU</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
$4
</domain>
EOF
    _name=$1
    shift 4
    _lv_virsh create "$_LV_TMP/$_name.xml" "$@" >/dev/null
}

# libvirt_define_vm NAME [BLOB ADDR]
# Start transient domain NAME paused (TCG, 128 MiB, pc, no disk/net/graphics).
# BLOB (file) is loaded raw into guest RAM at ADDR (e.g. 0x2000000) with
# -device loader.  The blob must still exist when the image is restored
# (the saved XML contains the same qemu:commandline).
libvirt_define_vm() {
    _name=$1 _blob=${2:-} _addr=${3:-}
    [ -n "$_name" ] || { echo "libvirt_define_vm: NAME missing" >&2; return 2; }
    _lv_tmpdir || return 1
    _lv_kill_domain "$_name"            # leftover from an earlier run
    _cmdline=
    if [ -n "$_blob" ]; then
        [ -n "$_addr" ] || { echo "libvirt_define_vm: ADDR missing" >&2; return 2; }
        _blob=$(readlink -f "$_blob") && [ -r "$_blob" ] ||
            { echo "libvirt_define_vm: cannot read blob $2" >&2; return 1; }
        case $_blob in *,*) echo "libvirt_define_vm: ',' in blob path" >&2; return 2;; esac
        # qemu runs as root:root here (qemu.conf); no AppArmor/SELinux label is
        # applied to passthrough args, so only plain permissions matter.  Make
        # the file and its directories world-readable in case qemu is not root.
        chmod a+r "$_blob" 2>/dev/null || :
        _cmdline="  <qemu:commandline>
    <qemu:arg value='-device'/>
    <qemu:arg value='loader,file=$_blob,addr=$_addr,force-raw=on'/>
  </qemu:commandline>"
    fi
    _lv_create "$_name" "<os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>" "<acpi/>" "$_cmdline" --paused
}

# libvirt_define_efi_vm NAME
# Start transient domain NAME running: a UEFI guest as libvirt sets them
# up (q35, SMM, firmware='efi' with secure-boot and enrolled keys: OVMF in
# pflash, its variables copied to an nvram file), 128 MiB, no disk; the
# firmware runs, ending in its boot manager.
libvirt_define_efi_vm() {
    _name=$1
    _lv_tmpdir || return 1
    _lv_kill_domain "$_name"
    _lv_create "$_name" "<os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
    <firmware>
      <feature enabled='yes' name='secure-boot'/>
      <feature enabled='yes' name='enrolled-keys'/>
    </firmware>
    <loader secure='yes'/>
  </os>" "<acpi/>
    <smm state='on'/>" ""
}

# libvirt_dump_ram NAME DUMP  -- write guest RAM 0..128 MiB to DUMP (HMP pmemsave)
libvirt_dump_ram() {
    _dump=$(readlink -f "$2") || return 1
    rm -f "$_dump"
    _out=$(_lv_virsh qemu-monitor-command "$1" --hmp "pmemsave 0 $LIBVIRT_MEM_BYTES \"$_dump\"") ||
        return 1
    # HMP errors come back as text with exit status 0
    if [ -n "$_out" ]; then echo "pmemsave: $_out" >&2; return 1; fi
    [ "$(stat -c %s "$_dump" 2>/dev/null)" = "$LIBVIRT_MEM_BYTES" ] ||
        { echo "pmemsave: $_dump missing or short" >&2; return 1; }
}

# libvirt_save NAME OUT FORMAT [extra virsh save flags...]
# FORMAT: raw|gzip|bzip2|xz|lzop|zstd|sparse (virsh save --image-format).
# Extra flags e.g. --parallel-channels 4 (sparse only), --bypass-cache, --running.
libvirt_save() {
    _name=$1 _out=$2 _fmt=$3
    shift 3 || { echo "usage: libvirt_save NAME OUT FORMAT [flags]" >&2; return 2; }
    case $_fmt in raw|gzip|bzip2|xz|lzop|zstd|sparse) ;;
        *) echo "libvirt_save: bad format '$_fmt'" >&2; return 2;; esac
    _out=$(readlink -f "$_out") || return 1
    rm -f "$_out"
    _lv_virsh save "$_name" "$_out" --image-format "$_fmt" "$@" >/dev/null || return 1
    [ -s "$_out" ] || { echo "libvirt_save: $_out not written" >&2; return 1; }
    if _lv_virsh domstate "$_name" >/dev/null 2>&1 &&
       [ "$(_lv_virsh domstate "$_name" 2>/dev/null)" != "shut off" ]; then
        echo "libvirt_save: domain $_name still active after save" >&2; return 1
    fi
    return 0
}

# libvirt_restore OUT NAME DUMP [extra virsh restore flags...]
# Restore OUT paused, dump guest RAM to DUMP, destroy the domain.
# NAME must be the name stored in the image.
libvirt_restore() {
    _img=$1 _name=$2 _dump=$3
    shift 3 || { echo "usage: libvirt_restore OUT NAME DUMP [flags]" >&2; return 2; }
    # absolute path: with --parallel-channels libvirtd opens the file itself
    # (cwd /), a relative path fails with "Failed to open file ..."
    _img=$(readlink -f "$_img") || return 1
    _lv_kill_domain "$_name"
    _lv_virsh restore "$_img" --paused "$@" >/dev/null || return 1
    _rc=0
    libvirt_dump_ram "$_name" "$_dump" || _rc=1
    _lv_virsh destroy "$_name" >/dev/null || _rc=1
    return $_rc
}

# libvirt_cleanup -- destroy/undefine every domain named $LIBVIRT_PREFIX*;
# daemons are left running.
libvirt_cleanup() {
    for _d in $(_lv_virsh list --all --name 2>/dev/null); do
        case $_d in "$LIBVIRT_PREFIX"*) _lv_kill_domain "$_d";; esac
    done
    # the nvram files libvirt made for UEFI domains
    rm -f /var/lib/libvirt/qemu/nvram/"$LIBVIRT_PREFIX"*_VARS.fd
    if [ -n "${_LV_TMP:-}" ]; then rm -rf "$_LV_TMP"; fi
    _LV_TMP=
    return 0
}
