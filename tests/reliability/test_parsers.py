"""The readers of what a bucket holds, fuzzed: a stored backup (ark's from
``corpus/corpus``, Velero's from ``corpus/guestbook-20261124``) with one file damaged — bytes
flipped, cut, inserted, or its gzip'd content changed and gzip'd again so that the parsers
behind the gzip see it — is verified (``ark backup verify``'s library: the record, the
manifest and its digest, every tar header and item, the resource list, the snapshot records).

Each input must come out as a verification with or without problems, in bounded time: an
exception is a crash. A change to an item's bytes or to ark's manifest that verify calls fine
of an ark backup is a corruption it missed (counted as lost; a Velero backup has no checksums,
so a change that leaves its items valid cannot be seen)."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ark import persistence
from ark.backup import verify
from ark.storage import StoreLocation, open_store
from tests.reliability.ledger import row, runs
from tests.reliability.ledger import seed as suite_seed

CORPUS = Path(__file__).parent / "corpus"
BACKUPS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
_MAX_INFLATED = 16 << 20


def _inflate(data: bytes) -> bytes | None:
    try:
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(data, _MAX_INFLATED)
    except zlib.error:
        return None


def _entries(data: bytes) -> dict[str, bytes] | None:
    """The files of a tar.gz as Python's tarfile reads them (None when it cannot)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return {m.name: (tar.extractfile(m) or io.BytesIO()).read() for m in tar if m.isfile()}
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError):
        return None


@st.composite
def damage(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(backup, file, its damaged bytes)."""
    backup = draw(st.sampled_from(BACKUPS))
    files = sorted(p.name for p in (CORPUS / backup).iterdir())
    name = draw(st.sampled_from(files))
    data = (CORPUS / backup / name).read_bytes()
    inner = _inflate(data) if name.endswith(".gz") else None
    target = inner if inner is not None and draw(st.booleans()) else data
    at = draw(st.integers(0, max(len(target) - 1, 0)))
    how = draw(st.sampled_from(["flip", "cut", "insert", "overwrite"]))
    if how == "flip":
        bit = 1 << draw(st.integers(0, 7))
        changed = target[:at] + bytes([target[at] ^ bit]) + target[at + 1 :] if target else b"x"
    elif how == "cut":
        changed = target[:at]
    elif how == "insert":
        changed = target[:at] + draw(st.binary(min_size=1, max_size=64)) + target[at:]
    else:
        piece = draw(st.binary(min_size=1, max_size=600))
        changed = target[:at] + piece + target[at + len(piece) :]
    if target is inner:
        changed = gzip.compress(changed, mtime=0)
    return backup, name, changed


@seed(suite_seed())
@settings(
    max_examples=max(runs() * 100, 100),
    deadline=10_000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(case=damage())
def test_damaged_backups_are_verified_never_crash_and_hide_no_change(
    tmp_path_factory: object, case: tuple[str, str, bytes]
) -> None:
    ledger = row("damaged bucket contents, verified (fuzzed)")
    backup, name, changed = case
    original = (CORPUS / backup / name).read_bytes()
    bucket = Path(str(tmp_path_factory.mktemp("bucket")))  # type: ignore[attr-defined]
    folder = bucket / "backups" / backup
    shutil.copytree(CORPUS / backup, folder)
    (folder / name).write_bytes(changed)
    store = persistence.BackupStore(
        open_store(StoreLocation(provider="fs", bucket=str(bucket), prefix=""))
    )
    ledger.attempted += 1
    ledger.faults += int(changed != original)
    try:
        result = verify.run(store, backup)
    except Exception as exc:  # a crash is what this test looks for
        ledger.lost += 1
        ledger.note(f"{backup}/{name}: {type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(bucket, ignore_errors=True)
    if not result.ok:
        ledger.failed_loudly += 1
        return
    ledger.completed += 1
    missed = _missed(backup, name, original, changed)
    if missed:
        ledger.lost += 1
        ledger.note(f"{backup}/{name}: {missed}, and verify found nothing")
    assert not missed


def _missed(backup: str, name: str, original: bytes, changed: bytes) -> str | None:
    """What changed that verify must have seen (None when nothing it guards changed)."""
    ark_written = backup == "corpus"  # Velero's backups have no checksums to check items by
    if ark_written and name.endswith(".tar.gz"):
        before, after = _entries(original), _entries(changed)
        if before is not None and after is not None:
            items = {k for k in before.keys() | after.keys() if k.startswith("resources/")}
            if any(before.get(k) != after.get(k) for k in items):
                return "an item's bytes changed"
    manifest = ark_written and name.endswith("-manifest.json.gz")
    if manifest and _inflate(original) != _inflate(changed):
        return "ark's manifest changed"
    return None
