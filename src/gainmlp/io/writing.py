"""Writing output files: only over regular files or new names, atomically, cleanly.

Rules (``docs/robustness.md``, "Outputs"):

* An output is written only where a regular file or nothing is: a folder, a character or
  block device, a FIFO or a socket is refused (``-o /dev/null`` never replaces the
  system's node), and so is a **symbolic link** (its target is not written through it and
  the link is not replaced: name the target itself). An output that is one of the
  command's inputs (same path, a symbolic or a hard link) is refused.
* The file is written to a temporary ``.part`` file in the target folder, fsynced and
  renamed into place, so an error, Ctrl-C, SIGTERM or SIGHUP (the CLI turns both into
  the same exception) never leaves a half-written file and a replaced file is either the
  old one or the new one.
* A new file gets the mode ``open(path, "w")`` would give (0666 less the umask); a
  replaced file keeps its permission bits but never its setuid, setgid or sticky bit.
* Temporary names stay within the file system's name limit (``NAME_MAX``, 255 bytes) for
  any output name that itself fits: ``.<first 48 bytes of the name>~<hash of the
  name>.gainmlp-<host>-<pid>-<random>.part``. A process killed outright (SIGKILL, power
  loss) leaves its ``.part`` behind; the next write into the same folder removes every
  ``.part`` of that pattern whose writer, on this host, is no longer running and that
  belongs to this user.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gainmlp.errors import GainMLPError

#: Bytes of a file name on Linux file systems (ext4, xfs, btrfs, tmpfs) when the folder
#: does not say (``os.pathconf(folder, "PC_NAME_MAX")``).
NAME_MAX = 255
#: Bytes of a whole path (``PATH_MAX``).
PATH_MAX = 4096
#: Bytes of the output's name kept in its temporary name (the rest is a hash).
PART_NAME_BYTES = 48
PART_SUFFIX = ".part"
_PART = re.compile(r"^\..*~[0-9a-f]{8}\.gainmlp-([0-9a-f]{6})-(\d+)-[a-z0-9_]{8}\.part$")
_cleaned: set[tuple[str, int]] = set()


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0666 less the process umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _short(name: str, limit: int) -> str:
    """The longest start of ``name`` whose file-system encoding fits ``limit`` bytes."""
    out, used = [], 0
    for ch in name:
        size = len(os.fsencode(ch))
        if used + size > limit:
            break
        out.append(ch)
        used += size
    return "".join(out)


def part_prefix(name: str, pid: int | None = None) -> str:
    """The start of every temporary name of output ``name`` written by process ``pid``
    (default: this one) on this host."""
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    pid = os.getpid() if pid is None else pid
    return f".{_short(name, PART_NAME_BYTES)}~{digest}.gainmlp-{_host_tag()}-{pid}-"


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return NAME_MAX


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a pid we wrote: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_parts(folder: str | os.PathLike) -> list[str]:
    """Remove the ``.part`` files a killed gainmlp left in ``folder``: our name pattern,
    written on this host by a process that is no longer running, a regular file owned by
    this user. Returns the names removed."""
    host, removed = _host_tag(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PART.match(entry.name)
        if not match or match.group(1) != host or int(match.group(2)) == os.getpid():
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            continue
        if _pid_alive(int(match.group(2))):
            continue
        try:
            os.unlink(os.path.join(folder, entry.name))
            removed.append(entry.name)
        except OSError:
            pass
    return removed


def new_run() -> None:
    """Start a new run (a command): its first write into each folder looks for stale
    ``.part`` files again (:func:`_clean_once`)."""
    _cleaned.clear()


def _clean_once(folder: Path) -> None:
    """:func:`remove_stale_parts` on the first write of this run and process into
    ``folder`` (once, not on every write: a batch writes thousands into one folder)."""
    key = (os.path.realpath(folder), os.getpid())
    if key not in _cleaned:
        _cleaned.add(key)
        remove_stale_parts(folder)


def _lstat(p: Path) -> os.stat_result | None:
    try:
        return os.lstat(p)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GainMLPError(f"{p}: cannot use as an output ({exc.strerror})") from None


def _kind(mode: int) -> str | None:
    """What a non-regular file is, for refusing it; None for a regular file."""
    for test, word in ((stat.S_ISDIR, "a folder; name an output file"),
                       (stat.S_ISLNK, "a symbolic link; name its target itself (links are "
                        "neither followed nor replaced)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return None if stat.S_ISREG(mode) else "not a regular file"


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse an output that is not a regular file or a new name (a folder, a device, a
    FIFO, a socket, a symbolic link), whose name is too long, that sits in a missing or
    unwritable folder, or that is one of ``inputs`` (same path, a link to it, or a hard
    link); returns the output path."""
    p = Path(path)
    raw = os.fsencode(p)
    if not p.name:
        raise GainMLPError(f"{p}: name an output file")
    if len(os.fsencode(p.name)) > NAME_MAX or len(raw) >= PATH_MAX:
        raise GainMLPError(f"{str(p)[:60]}...: output name too long (at most {NAME_MAX} "
                           f"bytes per name, {PATH_MAX} per path)")
    st = _lstat(p)
    if st is not None:
        for src in inputs:
            try:
                same = os.path.samefile(p, src)
            except (OSError, ValueError):
                same = False
            if same:
                raise GainMLPError(f"{p}: is the input {src}; refusing to overwrite an input")
    if st is not None and (kind := _kind(st.st_mode)) is not None:
        raise GainMLPError(f"{p}: is {kind}; refusing to write over it")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise GainMLPError(f"{p}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise GainMLPError(f"{p}: folder {folder} is not writable")
    if len(os.fsencode(p.name)) > _name_max(folder):
        raise GainMLPError(f"{str(p)[:60]}...: output name too long for its file system")
    return p


def check_output_folder(path: str | os.PathLike, create: bool = True) -> Path:
    """An output folder: refused when it is a file or another non-folder, or cannot be
    created or written; created (with its parents) when ``create``. Call it before the
    work, so that a bad folder fails in a second, not after the fit."""
    p = Path(path)
    if len(os.fsencode(p)) >= PATH_MAX or any(len(os.fsencode(part)) > NAME_MAX
                                                 for part in p.parts):
        raise GainMLPError(f"{str(p)[:60]}...: folder name too long")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise GainMLPError(f"{p}: cannot use as an output folder ({exc.strerror})") from None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise GainMLPError(f"{p}: is a file, not a folder; name an output folder")
    if st is None:
        parent = next((a for a in p.absolute().parents if a.exists()), Path("/"))
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise GainMLPError(f"{p}: cannot create the folder ({parent} is not writable)")
        if create:
            try:
                p.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise GainMLPError(f"{p}: cannot create the folder ({exc.strerror})") from None
    elif not os.access(p, os.W_OK | os.X_OK):
        raise GainMLPError(f"{p}: folder is not writable")
    return p


def atomic_write(path: str | os.PathLike, data: bytes,
                 inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write ``data`` to ``path`` through a temporary ``.part`` file, fsync and a rename,
    after :func:`check_output` (see the module docstring)."""
    p = check_output(path, inputs)
    folder = p.parent if str(p.parent) else Path(".")
    _clean_once(folder)
    try:
        st = _lstat(p)
        mode = stat.S_IMODE(st.st_mode) & 0o777 if st is not None else _new_file_mode()
        fd, tmp = tempfile.mkstemp(prefix=part_prefix(p.name), suffix=PART_SUFFIX, dir=folder)
    except OSError as exc:
        raise GainMLPError(f"{p}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        st = _lstat(p)  # a special file that appeared since the check is not replaced
        if st is not None and _kind(st.st_mode) is not None:
            raise GainMLPError(f"{p}: is {_kind(st.st_mode)}; refusing to write over it")
        os.replace(tmp, p)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            detail = exc.strerror or str(exc)
            raise GainMLPError(f"{p}: cannot write ({detail})") from None
        raise


__all__ = ["NAME_MAX", "PART_SUFFIX", "atomic_write", "check_output", "check_output_folder",
           "new_run", "part_prefix", "remove_stale_parts"]
