"""Run a command under the kernel-side rules of a systemd unit, without systemd.

    python3 tests/systemd/sandbox.py UNIT_FILE COMMAND [ARG...]

There is no systemd PID 1 here, so nothing can start a unit; but what its seccomp and
capability lines do is the kernel's work, and this does the same before exec'ing COMMAND:
  - SystemCallFilter= (an allow list, groups expanded by `systemd-analyze syscall-filter`,
    minus the `~` lists), with SystemCallErrorNumber= for every other system call;
  - MemoryDenyWriteExecute=yes as systemd 252 (Debian 12) builds it: mmap asking for
    writable and executable memory, and mprotect/pkey_mprotect adding exec, fail with EPERM;
  - RestrictAddressFamilies=: socket() of any other family fails with EAFNOSUPPORT;
  - CapabilityBoundingSet=: every other capability leaves the bounding set, so even as root
    the command keeps only those (it still runs as root: this machine's Python lives in /root);
  - NoNewPrivileges=yes, and Environment= lines.
The file system and namespace options need PID 1's mount namespace setup and are not done.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import subprocess
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
CAPABILITIES = {"CAP_DAC_OVERRIDE": 1, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_ADMIN": 21}
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
AF_MAX = 64


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def errno_action(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


def unit_lines(path: str) -> list[tuple[str, str]]:
    """(key, value) of every setting line of the unit, in order."""
    pairs = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


def syscall_groups() -> dict[str, list[str]]:
    """Every group `systemd-analyze syscall-filter` knows, with its entries."""
    text = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                          check=True).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.startswith("    "):
            if not line.strip().startswith("#"):
                current.append(line.strip())
        else:
            current = None
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for name in names:
        out |= expand(groups[name], groups) if name.startswith("@") else {name}
    return out


def allowed_syscalls(filters: list[list[str]]) -> set[str] | None:
    """The system calls SystemCallFilter= lines allow, or None when there is none."""
    if not filters:
        return None
    if filters[0][0].startswith("~"):
        raise SystemExit("only a unit whose first SystemCallFilter= is an allow list is emulated")
    groups = syscall_groups()
    allowed = expand(filters[0], groups)
    for more in filters[1:]:
        if more[0].startswith("~"):
            allowed -= expand([more[0][1:], *more[1:]], groups)
        else:
            allowed |= expand(more, groups)
    return allowed


class Filter:
    def __init__(self, lib, default: int):
        self.lib, self.ctx = lib, lib.seccomp_init(default)
        if not self.ctx:
            raise OSError("seccomp_init failed")

    def rule(self, action: int, name: str, *conditions: tuple[int, int, int, int]) -> None:
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not a system call of this architecture
        array = (ArgCmp * max(len(conditions), 1))(*[ArgCmp(*c) for c in conditions])
        result = self.lib.seccomp_rule_add_array(self.ctx, action, number, len(conditions), array)
        if result < 0:
            raise OSError(-result, f"seccomp rule for {name}")

    def load(self) -> None:
        result = self.lib.seccomp_load(self.ctx)
        if result < 0:
            raise OSError(-result, "seccomp_load")


def main(unit: str, command: list[str]) -> None:
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    libc = ctypes.CDLL(None, use_errno=True)
    settings = unit_lines(unit)
    value = {key: v for key, v in settings}  # the last line of each key

    for key, v in settings:
        if key == "Environment":
            name, _, text = v.partition("=")
            os.environ[name] = text

    allowed = allowed_syscalls([line.split() for key, line in settings if key == "SystemCallFilter"])

    if "CapabilityBoundingSet" in value:
        keep = {CAPABILITIES[c] for c in value["CapabilityBoundingSet"].split()}
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
        for cap in range(last + 1):
            if cap not in keep and libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), f"dropping capability {cap}")
    if value.get("NoNewPrivileges") == "yes" and libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs")

    if value.get("MemoryDenyWriteExecute") == "yes":
        f = Filter(lib, SCMP_ACT_ALLOW)
        wx = PROT_WRITE | PROT_EXEC
        for name in ("mmap", "mmap2"):
            f.rule(errno_action(errno.EPERM), name, (2, SCMP_CMP_MASKED_EQ, wx, wx))
        for name, arg in (("mprotect", 2), ("pkey_mprotect", 2)):
            f.rule(errno_action(errno.EPERM), name, (arg, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        f.rule(errno_action(errno.EPERM), "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
        f.load()

    if "RestrictAddressFamilies" in value:
        keep = {FAMILIES[name] for name in value["RestrictAddressFamilies"].split()}
        f = Filter(lib, SCMP_ACT_ALLOW)
        for family in range(AF_MAX):
            if family not in keep:
                f.rule(errno_action(errno.EAFNOSUPPORT), "socket", (0, SCMP_CMP_EQ, family, 0))
        f.load()

    # Last, as systemd does: after it no further filter could be loaded (seccomp() is refused).
    if allowed is not None:
        f = Filter(lib, errno_action(getattr(errno, value.get("SystemCallErrorNumber", "EPERM"))))
        for name in sorted(allowed):
            f.rule(SCMP_ACT_ALLOW, name)
        f.load()

    os.execvp(command[0], command)


if __name__ == "__main__":
    if len(sys.argv) < 3 or not re.search(r"\.service$", sys.argv[1]):
        sys.exit("usage: sandbox.py UNIT.service COMMAND [ARG...]")
    main(sys.argv[1], sys.argv[2:])
