"""The Azurite and fake-gcs-server fixtures of the storage suite, for the lock tests."""

from tests.storage.conftest import azurite, fake_gcs

__all__ = ["azurite", "fake_gcs"]
