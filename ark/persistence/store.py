"""``BackupStore``: everything a backup and a restore keep in one storage location.

The one module that knows which file of a backup or restore holds what: the record
(``velero-backup.json``, written last: its presence says the backup is complete), results,
log, volume snapshot records, resource list, ark's manifest and the archive; a restore's
results and log. Every whole-file read goes through ``reading`` with its limit. With a
keyring, every file but the record is encrypted (``encryption``), and read back through it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from ark import archive, crypto
from ark.persistence import chunks, encryption, keys, reading, record, volume_index
from ark.persistence.errors import BackupLocked, ManifestMismatch, StoredFileError
from ark.persistence.limits import DEFAULT, FileLimit, Limits
from ark.persistence.snapshots import SnapshotRecord
from ark.report import RunLog, gzip_json, gzip_json_chunks
from ark.storage import (
    ObjectNotFound,
    ObjectStore,
    Retention,
    StoreError,
    StoreLocation,
    Writer,
)

_log = logging.getLogger("ark.persistence")


@dataclass(frozen=True)
class CompleteBackup:
    """The files of a backup whose archive is complete, besides results and log."""

    manifest: archive.Manifest
    snapshots: Sequence[SnapshotRecord]
    record: Mapping[str, Any]
    """The ``velero-backup.json`` document (``record.backup_record``)."""


@dataclass(frozen=True)
class StoredManifest:
    manifest: archive.Manifest
    sha256: str
    """Hex SHA-256 of the file as stored (gzip'd), the digest the record keeps."""


def _hashed(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _backup(name: str) -> keys.BackupKeys:
    return keys.BackupKeys(archive.backup_name(name))


def _restore(name: str) -> keys.RestoreKeys:
    return keys.RestoreKeys(archive.restore_name(name))


class BackupStore:
    """A storage location's backups and restores. Names are checked (InvalidName, a
    ValueError); reads raise ObjectNotFound for a missing file, StoredFileError for one over
    its limit or garbage, another StoreError for a store that cannot be reached.

    With ``keyring`` (the location's keys), what is written is encrypted under a data key per
    backup (or restore) wrapped by the current key, and encrypted files are read with the key
    they name; an EncryptionError (a StoredFileError) when that key is not in the keyring."""

    def __init__(
        self,
        objects: ObjectStore,
        *,
        limits: Limits = DEFAULT,
        keyring: crypto.Keyring | None = None,
    ) -> None:
        self.objects = objects
        self.limits = limits
        self.keyring = keyring
        where = keyring.where if keyring is not None else "this storage location"
        self._opener = encryption.Opener(keyring, where=where)
        self._data_keys: dict[str, crypto.DataKey] = {}
        self._naming: chunks.ChunkNaming | None = None

    @property
    def location(self) -> StoreLocation:
        return self.objects.location

    # -- backups ------------------------------------------------------------------------
    def backup_names(self) -> set[str]:
        """Names of the backups with a folder under ``backups/`` (complete or not)."""
        listing = self.objects.list_level(keys.BACKUPS)
        return {p.rstrip("/").rsplit("/", 1)[-1] for p in listing.prefixes}

    def has_record(self, name: str) -> bool:
        """Whether the backup's record is there (a backup by that name was completed)."""
        return self.objects.exists(_backup(name).metadata)

    def record(self, name: str) -> dict[str, Any]:
        """The backup's record (the ``velero.io/v1`` Backup document)."""
        key = _backup(name).metadata
        document = reading.read_json(
            self.objects, key, what=f"record of backup {name}", limit=self.limits.record
        )
        if not isinstance(document, dict):
            raise StoredFileError(key, f"record of backup {name}", "not a JSON object")
        return document

    def complete_record(self, name: str) -> dict[str, Any] | None:
        """The record of a complete backup; None when there is none, or it cannot be read
        (a bad name, a bad file: logged) — such a backup is not complete."""
        try:
            return self.record(name)
        except (ObjectNotFound, archive.InvalidName):
            return None
        except StoredFileError as exc:
            _log.warning("backup %s is not complete: %s", name, exc)
            return None

    def delete_record(self, name: str) -> None:
        """Delete the record (an earlier attempt's, before writing the backup again)."""
        self.objects.delete(_backup(name).metadata)

    def has_files(self, name: str) -> bool:
        """Whether anything of the backup is stored, complete or not."""
        return any(True for _ in self.objects.list(_backup(name).prefix))

    def _data_key(self, name: str) -> crypto.DataKey | None:
        """The data key of backup ``name`` written through this store (made at its first
        file); None when the location does not encrypt."""
        if self.keyring is None or self.keyring.current is None:
            return None
        if name not in self._data_keys:
            self._data_keys[name] = self._new_data_key(_backup(name).prefix, f"backup {name}")
        return self._data_keys[name]

    def encryption_key(self, name: str) -> str | None:
        """The id of the key that wrapped the data key of backup ``name`` written through this
        store; None when it was written unencrypted (or not through this store)."""
        data_key = self._data_keys.get(name)
        return None if data_key is None else data_key.key_id

    def _new_data_key(self, key: str, what: str) -> crypto.DataKey:
        """EncryptionError (KeyUnavailable) when the current key cannot wrap (its Secret
        gone, its KMS unreachable or refusing): nothing is written unencrypted."""
        assert self.keyring is not None
        try:
            return self.keyring.new_data_key()
        except crypto.KeyProblem as exc:
            raise encryption.EncryptionError(
                key, what, encryption.KEY_UNAVAILABLE, str(exc)
            ) from None

    def _put(
        self, key: str, data: bytes | Iterable[bytes], data_key: crypto.DataKey | None
    ) -> None:
        self.objects.put(
            key, data if data_key is None else encryption.seal(data, data_key, key=key)
        )

    def open_archive_write(self, name: str) -> AbstractContextManager[Writer]:
        """Stream the archive (``<name>.tar.gz``) in; see ``ObjectStore.open_write``."""
        key = _backup(name).contents
        data_key = self._data_key(name)
        if data_key is None:
            return self.objects.open_write(key)
        return self._encrypted_write(key, data_key)

    @contextmanager
    def _encrypted_write(self, key: str, data_key: crypto.DataKey) -> Iterator[Writer]:
        with self.objects.open_write(key) as sink:
            writer = crypto.EncryptingWriter(sink, data_key, name=key)
            yield writer
            writer.close()  # the final chunk: only an archive written whole is complete

    @contextmanager
    def open_archive(self, name: str) -> Iterator[BinaryIO]:
        """Stream the archive out, decrypted (it is checked by the archive reader, not
        here)."""
        key = _backup(name).contents
        sealed = self._sealed(name)
        with self.objects.open_read(key) as raw:
            yield self._opener.open(raw, key=key, what=f"archive of backup {name}", sealed=sealed)

    def _sealed(self, name: str) -> encryption.Sealed | None:
        """What the backup's record says about its encryption (``encryption.PLAINTEXT``:
        none); None without a record."""
        try:
            document = self.record(name)
        except ObjectNotFound:
            return None
        return self._sealed_of(name, document)

    def _sealed_of(self, name: str, document: Mapping[str, Any]) -> encryption.Sealed:
        try:
            return encryption.expected_of(document)
        except ValueError as exc:
            key = _backup(name).metadata
            raise StoredFileError(key, f"record of backup {name}", str(exc)) from None

    def _decode(
        self, key: str, what: str, sealed: encryption.Sealed | None
    ) -> Callable[[reading.Readable], reading.Readable]:
        return lambda src: self._opener.open(src, key=key, what=what, sealed=sealed)

    def _read(
        self, name: str, key: str, what: str, limit: FileLimit, *, opening: bytes = b""
    ) -> bytes:
        """A file of backup ``name``, whole and bounded, decrypted as its record says."""
        decode = self._decode(key, what, self._sealed(name))
        return reading.read(
            self.objects, key, what=what, limit=limit, opening=opening, decode=decode
        )

    def put_backup(
        self,
        name: str,
        *,
        results: Mapping[str, Any],
        log: RunLog,
        complete: CompleteBackup | None = None,
        retention: Retention | None = None,
    ) -> str | None:
        """Results, log and, for a complete backup, snapshot records, manifest and resource
        list (each a request of its own, and gzip releases the GIL), then the record, last,
        keeping the stored manifest's SHA-256, which is returned (None without ``complete``).
        The manifest and the resource list, the big ones, go one after the other: each holds
        a part of its bytes in memory. The first failure (a StoreError) is raised.

        With ``retention``, a complete backup's every object (the archive too) is locked
        before the record is written, and the record right after: a backup that looks
        complete is locked whole. RetentionUnsupported (a StoreError) when the bucket cannot
        lock; the record is then not left behind."""
        k = _backup(name)
        digest = hashlib.sha256()

        data_key = self._data_key(name)

        def small_ones() -> None:
            self._put(k.results, gzip_json(results), data_key)
            self._put(k.logs, log.gzipped_chunks(), data_key)
            if complete is not None:
                entries = [r.to_velero(name) for r in complete.snapshots]
                self._put(k.volume_snapshots, gzip_json(entries), data_key)

        def big_ones(m: archive.Manifest) -> None:
            # Level 1, as the archive: the default level costs time for little size here.
            chunks: Iterable[bytes] = archive.encode_manifest_chunks(m, compress_level=1)
            if data_key is not None:  # the digest is of the stored (encrypted) file
                chunks = encryption.seal(chunks, data_key, key=k.manifest)
            self.objects.put(k.manifest, _hashed(chunks, digest))
            self._put(k.resource_list, archive.encode_manifest_resource_list(m), data_key)

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ark-results") as pool:
            futures = [pool.submit(small_ones)]
            if complete is not None:
                futures.append(pool.submit(big_ones, complete.manifest))
            for future in futures:
                future.result()
        if complete is None:
            return None
        if retention is not None:
            for info in list(self.objects.list(k.prefix)):
                self._lock(info.key, retention)
        document = record.with_manifest_digest(complete.record, digest.hexdigest())
        if data_key is not None:
            document = encryption.sealed_record(document, data_key)
        self.objects.put(k.metadata, orjson.dumps(document, option=orjson.OPT_INDENT_2))
        if retention is not None:
            try:
                self._lock(k.metadata, retention)
            except StoreError:
                self.objects.delete(k.metadata)  # an unlocked record must not say "complete"
                raise
        return digest.hexdigest()

    def _lock(self, key: str, retention: Retention) -> None:
        self.objects.lock(key, until=retention.until, mode=retention.mode)

    def check_unlocked(self, name: str) -> None:
        """BackupLocked when any object of the backup is under a retention that has not
        ended (every object is asked)."""
        lock, locked, total = self._active_lock(name)
        if lock is not None:
            raise BackupLocked(name, lock, locked=locked, total=total)

    def active_lock(self, name: str, *, now: dt.datetime | None = None) -> Retention | None:
        """The retention that keeps the backup longest, among its objects whose retention has
        not ended (every object is asked); None when nothing of it is locked."""
        try:
            return self._active_lock(name, now=now)[0]
        except archive.InvalidName:
            return None

    def _active_lock(
        self, name: str, *, now: dt.datetime | None = None
    ) -> tuple[Retention | None, int, int]:
        """(the longest active retention, how many objects have one, how many objects)."""
        now = now or dt.datetime.now(dt.UTC)
        longest: Retention | None = None
        locked = total = 0
        for info in list(self.objects.list(_backup(name).prefix)):
            total += 1
            try:
                found = self.objects.retention(info.key)
            except ObjectNotFound:
                continue  # deleted since the listing
            if found is None or not found.active(now):
                continue
            locked += 1
            if longest is None or found.until > longest.until:
                longest = found
        return longest, locked, total

    def backup_results(self, name: str) -> dict[str, Any]:
        key = _backup(name).results
        what = f"results of backup {name}"
        return self._json_object(key, what, self.limits.results, sealed=self._sealed(name))

    def backup_log(self, name: str) -> bytes:
        """The backup's log, inflated: JSON lines."""
        key = _backup(name).logs
        return self._read(name, key, f"log of backup {name}", self.limits.log)

    def snapshots(self, name: str) -> list[SnapshotRecord]:
        """The backup's volume snapshot records; none when it keeps no list."""
        key = _backup(name).volume_snapshots
        what = f"volume snapshot list of backup {name}"
        try:
            # Velero writes ``null`` for a backup without snapshots.
            data = self._read(name, key, what, self.limits.snapshots, opening=b"{[n")
            entries = orjson.loads(data)
        except ObjectNotFound:
            return []
        except orjson.JSONDecodeError as exc:
            raise StoredFileError(key, what, f"not JSON ({exc})") from None
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise StoredFileError(key, what, "not a JSON list")
        try:
            return [SnapshotRecord.from_velero(e) for e in entries]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise StoredFileError(key, what, f"not a list of snapshot records ({exc!r})") from None

    def manifest(self, name: str) -> archive.Manifest | None:
        """ark's manifest of the backup; None for a backup without one (written by Velero)."""
        stored = self.stored_manifest(name)
        return None if stored is None else stored.manifest

    def stored_manifest(
        self, name: str, *, document: Mapping[str, Any] | None = None
    ) -> StoredManifest | None:
        """ark's manifest of the backup with the SHA-256 of its stored file; None for a
        backup without one. ``document``: the backup's record, when read already."""
        key = _backup(name).manifest
        what = f"manifest of backup {name}"
        digest = hashlib.sha256()
        sealed = self._sealed(name) if document is None else self._sealed_of(name, document)
        try:
            text = reading.read_text(
                self.objects,
                key,
                what=what,
                limit=self.limits.manifest,
                opening=b"{",
                on_stored=digest.update,
                decode=self._decode(key, what, sealed),
            )
        except ObjectNotFound:
            return None
        try:
            return StoredManifest(archive.Manifest.from_text(text), digest.hexdigest())
        except archive.InvalidArchive as exc:
            raise StoredFileError(key, what, exc.cause) from None

    def checked_manifest(self, name: str, document: Mapping[str, Any]) -> StoredManifest | None:
        """The manifest of a backup whose record is ``document``, checked against it: raises
        ManifestMismatch (a reason named) when the record says ark wrote the backup and the
        manifest is missing, or names another backup, or its SHA-256 is not the one the record
        keeps. None for a backup without one whose record is not ark's (written by Velero).

        An encrypted backup's record is checked first: EncryptionError when its key is not
        listed (KeyUnavailable) or its HMAC is not its own (RecordAltered)."""
        key = _backup(name).manifest
        what = f"manifest of backup {name}"
        expected = record.manifest_digest_of(document)
        sealed = self._sealed_of(name, document)
        if sealed is not encryption.PLAINTEXT:
            record_key, record_what = _backup(name).metadata, f"record of backup {name}"
            data_key = self._opener.data_key(
                sealed.key_id, sealed.wrapped, key=record_key, what=record_what
            )
            encryption.check_record(document, data_key, key=record_key, what=record_what)
        stored = self.stored_manifest(name, document=document)
        if stored is None:
            if record.written_by_ark(document):
                raise ManifestMismatch(
                    key, what, "ManifestMissing", "missing, but the record says ark wrote one"
                )
            return None
        if stored.manifest.backup_name != name:
            raise ManifestMismatch(
                key,
                what,
                "ManifestOfAnotherBackup",
                f"it is the manifest of backup {stored.manifest.backup_name!r}",
            )
        if expected is not None and stored.sha256 != expected:
            raise ManifestMismatch(
                key,
                what,
                "ManifestAltered",
                f"altered: its sha256 is {stored.sha256}, the record keeps {expected}",
            )
        return stored

    def resource_list(self, name: str) -> dict[str, list[str]]:
        """Velero's resource list of the backup: ``apiVersion/Kind`` -> names."""
        key = _backup(name).resource_list
        what = f"resource list of backup {name}"
        doc = self._json_object(key, what, self.limits.resource_list, sealed=self._sealed(name))
        names = doc.values()
        if not all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in names):
            raise StoredFileError(key, what, "not a map of lists of names")
        return doc

    def delete_backup(self, name: str) -> int:
        """Delete every file of the backup, the record first (so a half-deleted backup never
        looks complete); returns how many were deleted. Idempotent. Every object's retention
        is checked before any is deleted: BackupLocked when one is still locked, and then
        nothing was deleted."""
        k = _backup(name)
        self.check_unlocked(name)
        return self._delete_prefix(k.prefix, first=k.metadata)

    # -- exported volumes ---------------------------------------------------------------
    def _volume_data_key(self, name: str) -> crypto.DataKey | None:
        """The data key an export into backup ``name`` writes with: the one this store made
        for it, else the one its record names (an export after the backup completed), else a
        new one (an export before the record is written, which then keeps it)."""
        if name in self._data_keys:
            return self._data_keys[name]
        sealed = self._sealed(name)
        if sealed is None:
            return self._data_key(name)
        if sealed is encryption.PLAINTEXT:
            return None
        key, what = _backup(name).metadata, f"record of backup {name}"
        material = self._opener.data_key(sealed.key_id, sealed.wrapped, key=key, what=what)
        found = crypto.DataKey(key=material, key_id=sealed.key_id, wrapped=sealed.wrapped)
        self._data_keys[name] = found
        return found

    def chunk_store(self, name: str) -> chunks.ChunkStore:
        """The location's chunks, as an export into backup ``name`` writes them: named the
        location's way, new ones sealed with the backup's data key."""
        if self._naming is None:
            self._naming = chunks.location_naming(
                self.objects, self.keyring, opener=self._opener, limits=self.limits
            )
        data_key = self._volume_data_key(name) if self._naming.encrypted else None
        if self._naming.encrypted and data_key is None:
            # a backup written before its location encrypted: its chunks are sealed anyway
            data_key = self._new_data_key(_backup(name).prefix, f"backup {name}")
        return chunks.ChunkStore(
            self.objects, self._naming, opener=self._opener, data_key=data_key, limits=self.limits
        )

    def chunks_of(self, name: str, index: volume_index.VolumeIndex) -> chunks.ChunkStore:
        """The chunks ``index`` (of backup ``name``) names, to read its blocks back."""
        naming = chunks.naming_of(
            self.objects,
            index.naming,
            index.naming_key,
            opener=self._opener,
            limits=self.limits,
            where=_backup(name).volume_index(index.volume),
        )
        return chunks.ChunkStore(self.objects, naming, opener=self._opener, limits=self.limits)

    def put_volume_index(self, name: str, index: volume_index.VolumeIndex) -> None:
        """Store the index of one exported volume of backup ``name`` (after its chunks)."""
        key = _backup(name).volume_index(index.volume)
        self._put(key, gzip.compress(index.encode(), mtime=0), self._volume_data_key(name))

    def volume_index(self, name: str, volume: str) -> volume_index.VolumeIndex:
        """The index of volume (PersistentVolume) ``volume`` exported in backup ``name``.
        ObjectNotFound when it was not exported; StoredFileError when the index is garbage."""
        key = _backup(name).volume_index(volume)
        what = f"volume index {volume} of backup {name}"
        data = self._read(name, key, what, self.limits.volume_index, opening=b"{")
        try:
            index = volume_index.decode(data)
        except (ValueError, orjson.JSONDecodeError) as exc:
            raise StoredFileError(key, what, str(exc)) from None
        if index.volume != volume:
            raise StoredFileError(key, what, f"it is the index of volume {index.volume!r}")
        return index

    def exported_volumes(self, name: str) -> list[str]:
        """The PersistentVolumes whose index backup ``name`` keeps, sorted."""
        folder = _backup(name).volumes
        found = (info.key.removeprefix(folder) for info in self.objects.list(folder))
        return sorted(
            k.removesuffix(keys.INDEX_SUFFIX) for k in found if k.endswith(keys.INDEX_SUFFIX)
        )

    def every_exported_volume(self) -> dict[str, list[str]]:
        """Every backup's exported volumes (backup name: PVs with an index, sorted), from one
        listing of the location's backups; a folder no backup could be named is left out."""
        found: dict[str, list[str]] = {}
        for info in self.objects.list(keys.BACKUPS):
            name, _, rest = info.key.removeprefix(keys.BACKUPS).partition("/volumes/")
            if "/" in name or "/" in rest or not rest.endswith(keys.INDEX_SUFFIX):
                continue
            try:
                archive.backup_name(name)
            except ValueError:
                continue
            found.setdefault(name, []).append(rest.removesuffix(keys.INDEX_SUFFIX))
        return {name: sorted(volumes) for name, volumes in found.items()}

    # -- restores -----------------------------------------------------------------------
    def put_restore(
        self,
        name: str,
        *,
        results: Mapping[str, Any],
        log: RunLog,
        outcomes: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """The restore's results file: ``results`` with ``outcomes`` (one per item) as its
        ``"outcomes"`` array, encoded as they come; and its log."""
        k = _restore(name)
        encrypting = self.keyring is not None and self.keyring.current is not None
        data_key = self._new_data_key(k.prefix, f"restore {name}") if encrypting else None
        self._put(k.results, gzip_json_chunks(results, arrays={"outcomes": outcomes}), data_key)
        self._put(k.logs, log.gzipped_chunks(), data_key)

    def restore_results(self, name: str) -> dict[str, Any]:
        key = _restore(name).results
        return self._json_object(key, f"results of restore {name}", self.limits.results)

    def restore_log(self, name: str) -> bytes:
        """The restore's log, inflated: JSON lines."""
        key = _restore(name).logs
        what = f"log of restore {name}"
        decode = self._decode(key, what, None)
        return reading.read(self.objects, key, what=what, limit=self.limits.log, decode=decode)

    def delete_restore(self, name: str) -> int:
        """Delete every file of the restore; returns how many were deleted. Idempotent."""
        return self._delete_prefix(_restore(name).prefix)

    # -- helpers ------------------------------------------------------------------------
    def _json_object(
        self, key: str, what: str, limit: FileLimit, *, sealed: encryption.Sealed | None = None
    ) -> dict[str, Any]:
        decode = self._decode(key, what, sealed)
        document = reading.read_json(self.objects, key, what=what, limit=limit, decode=decode)
        if not isinstance(document, dict):
            raise StoredFileError(key, what, "not a JSON object")
        return document

    def _delete_prefix(self, prefix: str, *, first: str | None = None) -> int:
        if first is not None:
            self.objects.delete(first)
        count = 0
        for info in list(self.objects.list(prefix)):
            self.objects.delete(info.key)
            count += 1
        if any(True for _ in self.objects.list(prefix)):
            raise StoreError(f"objects remain under {prefix} after deleting them")
        return count
