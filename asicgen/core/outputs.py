"""Where asicgen may write: the output policy, and output folders staged whole.

An output path never destroys what asicgen did not write itself:

* a folder output goes to a new path, an empty folder, or a previous asicgen output
  of the same kind, which it replaces whole. A previous output is recognised by its
  `manifest.json` (written by asicgen, naming its kind and every file it wrote); a
  folder holding anything its manifest does not list is refused, since those files
  are someone else's. `force=True` also replaces an asicgen output of another kind.
* a file output goes to a new path or replaces a file asicgen wrote of the same kind
  (each writer says how it recognises its own files).
* an output is never one of the command's inputs, nor a folder holding one, nor the
  working folder or one of its parents.

Commands check their output before the expensive work (`check_folder_output`,
`check_file_output`); the writers check again just before they move the result
into place. A folder is built in a hidden staging folder beside its target and
swapped in at the end, so an interrupted run leaves either the old output or the
new one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from asicgen import __version__
from asicgen.core.atomic import check_interrupt, deferred_interrupt, publish_mode, write_text
from asicgen.core.raw import ConfigError

MANIFEST = "manifest.json"

#: the kinds of output folder, as named in their manifests
TRAIN_KIND = "train"
IMAGE_KIND = "image"
HLS_KIND = "hls"
RTL_KIND = "rtl"
RTL_TMR_KIND = "rtl_tmr"
GENERATE_KIND = "generate"
FLOW_KIND = "flow"
SYNTH_KIND = "synth"
REGRESS_KIND = "regress"
REPORT_KIND = "report"
GATESIM_KIND = "gatesim"
TOOL = f"asicgen {__version__}"
#: the version of the manifest layout (`asicgen.core.artefacts` reads it)
SCHEMA = 1


class OutputError(ConfigError):
    """An output path that asicgen refuses to write; the message says why and what to do."""


def _absolute(path: Path) -> Path:
    """Absolute, with `..` resolved, but the last component not followed if it is a link."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _check_not_input(out: Path, shown: Path, inputs: Sequence[Path], option: str) -> None:
    for source in inputs:
        src = _absolute(Path(source)).resolve()
        if _inside(src, out.resolve()):
            what = "is" if src == out.resolve() else "holds"
            raise OutputError(f"{option} {shown} {what} the input {source}: writing there would destroy it; "
                              "choose another output path")


def _check_not_cwd(out: Path, shown: Path, option: str) -> None:
    cwd = Path.cwd().resolve()
    if _inside(cwd, out.resolve()):
        raise OutputError(f"{option} {shown} is the working folder or one of its parents, which asicgen "
                          "would replace whole; name a new folder, e.g. ./out")


def _check_writable(out: Path, shown: Path, option: str) -> None:
    """The nearest existing folder above `out` must be a folder we can create files in."""
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{option} {shown}: {parent} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise OutputError(f"{option} {shown}: cannot write in {parent} ({exc.strerror})") from None


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a folder asicgen wrote, or None."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not str(data.get("tool", "")).startswith("asicgen"):
        return None
    if not isinstance(data.get("kind"), str) or not isinstance(data.get("files"), dict):
        return None
    return data


def _unlisted(folder: Path, listed: Mapping[str, Any]) -> list[str]:
    """Files under `folder` that its manifest does not account for."""
    return [rel for path in sorted(folder.rglob("*"))
            if not path.is_dir() and (rel := path.relative_to(folder).as_posix()) != MANIFEST
            and rel not in listed]


def check_folder_output(path: Path, kind: str, *, force: bool = False, inputs: Sequence[Path] = (),
                        option: str = "--out") -> Path:
    """Refuse `path` as the output folder of a `kind` output unless the policy allows it.

    Returns the absolute path. Cheap: call it before the expensive work."""
    out = _absolute(Path(path))
    _check_not_cwd(out, path, option)
    _check_not_input(out, path, inputs, option)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{option} {path} is an existing file, not a folder asicgen wrote; "
                          "choose another output path")
    if out.is_dir() and any(out.iterdir()):
        manifest = read_manifest(out)
        if manifest is None:
            raise OutputError(f"{option} {path} is a folder asicgen did not write (no asicgen {MANIFEST}); "
                              "asicgen replaces its output folder whole, so it writes only to a new or "
                              "empty folder or over its own earlier output: choose another path")
        if manifest["kind"] != kind and not force:
            raise OutputError(f"{option} {path} holds an earlier asicgen {manifest['kind']!r} output, not a "
                              f"{kind!r} one; choose another path, or add --force to replace it")
        unlisted = _unlisted(out, manifest["files"])
        if unlisted:
            shown = ", ".join(unlisted[:5]) + (f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else "")
            raise OutputError(f"{option} {path} holds files asicgen did not write ({shown}); replacing the "
                              "folder would destroy them: move them away or choose another path")
    _check_writable(out, path, option)
    return out


def check_file_output(path: Path, kind: str, recognise: Callable[[Path], bool], *,
                      inputs: Sequence[Path] = (), option: str = "--out") -> Path:
    """Refuse `path` as a `kind` output file unless it is new or a file asicgen wrote
    (`recognise` says whether an existing file is one). Returns the absolute path."""
    out = _absolute(Path(path))
    _check_not_input(out, path, inputs, option)
    if out.is_dir():
        raise OutputError(f"{option} {path} is a folder; give a file name")
    if out.exists() and not recognise(out):
        raise OutputError(f"{option} {path} exists and is not a {kind} file asicgen wrote; asicgen does not "
                          "overwrite other files: choose another path or move it away")
    _check_writable(out, path, option)
    return out


def file_listing(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` but its manifest, by relative path."""
    listing = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST:
            listing[rel] = file_sha256(path)
    return listing


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def changed_files(folder: Path, listing: Mapping[str, str]) -> list[str]:
    """The files of `listing` (name -> sha256, as a manifest lists them) missing from `folder`
    or holding other bytes."""
    return [name for name, digest in listing.items()
            if not (Path(folder) / name).is_file() or file_sha256(Path(folder) / name) != digest]


def write_manifest(folder: Path, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """manifest.json of a finished output folder: its kind, the writer, every file in it."""
    manifest = {**fields, "tool": TOOL, "kind": kind, "schema": SCHEMA, "files": file_listing(folder)}
    write_text(Path(folder) / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


@contextlib.contextmanager
def staged_folder(target: Path, kind: str, *, force: bool = False, keep_on_error: bool = False
                  ) -> Iterator[Path]:
    """Build an output folder in a hidden staging folder beside `target`, then swap it in.

    The block must leave a manifest of `kind` in the staging folder (`write_manifest`).
    On an exception nothing changes at `target` (with `keep_on_error`, an incomplete
    folder replaces it all the same, for inspection; never on an interrupt)."""
    target = _absolute(Path(target))
    check_folder_output(target, kind, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        try:
            yield staging
        except KeyboardInterrupt:
            raise
        except BaseException:
            if keep_on_error and read_manifest(staging) is not None:
                _swap_in(staging, target, kind, force)
            raise
        if read_manifest(staging) is None:
            raise RuntimeError(f"internal error: no manifest was written in the staging folder of {target}")
        _swap_in(staging, target, kind, force)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, target: Path, kind: str, force: bool) -> None:
    # the policy is checked again: the target may have changed during a long run
    check_folder_output(target, kind, force=force)
    publish_mode(staging)
    check_interrupt()
    with deferred_interrupt():
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "previous")
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
