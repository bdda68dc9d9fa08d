from shared import settings
from shared.settings import StorageSettings, storage_settings


def test_connection_string_wins_over_identity_settings():
    env = {
        "FACEGATE_STORAGE": "UseDevelopmentStorage=true",
        "FACEGATE_STORAGE__accountName": "prod",
    }
    assert storage_settings(env) == StorageSettings(connection_string="UseDevelopmentStorage=true")


def test_account_name_gives_service_uris_and_managed_identity():
    env = {
        "FACEGATE_STORAGE__accountName": "facegatestore",
        "FACEGATE_STORAGE__credential": "managedidentity",
        "FACEGATE_STORAGE__clientId": "00000000-0000-0000-0000-000000000001",
    }
    got = storage_settings(env)
    assert got.uses_identity
    assert got.blob_uri == "https://facegatestore.blob.core.windows.net"
    assert got.table_uri == "https://facegatestore.table.core.windows.net"
    assert got.queue_uri == "https://facegatestore.queue.core.windows.net"
    assert got.credential == "managedidentity"
    assert got.client_id == "00000000-0000-0000-0000-000000000001"


def test_explicit_service_uris_override_the_account_name():
    env = {
        "FACEGATE_STORAGE__accountName": "a",
        "FACEGATE_STORAGE__tableServiceUri": "https://t.example.test",
    }
    got = storage_settings(env)
    assert got.table_uri == "https://t.example.test"
    assert got.blob_uri == "https://a.blob.core.windows.net"


def test_nothing_set_means_the_local_emulator():
    assert storage_settings({}).connection_string == "UseDevelopmentStorage=true"


def test_declared_settings_fall_back_to_defaults():
    assert settings.get("FACEGATE_ONNX_THREADS", {}) == "1"
    assert settings.get_bool("FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE", {}) is False
    env = {"FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE": "TRUE", "FACEGATE_REGISTRY_CACHE_SECONDS": "x"}
    assert settings.get_bool("FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE", env) is True
    assert settings.get_int("FACEGATE_REGISTRY_CACHE_SECONDS", env) == 15
