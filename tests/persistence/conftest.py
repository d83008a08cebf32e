"""The fake-gcs-server fixture of the storage suite, for the lock tests (Azurite's is in
tests/conftest.py)."""

from tests.storage.conftest import fake_gcs

__all__ = ["fake_gcs"]
