"""The storage clients reach Azurite through FACEGATE_STORAGE, as in production."""

from shared.storage import clients, names


def test_provisioned_containers_and_tables_exist(azurite):
    containers = {c.name for c in clients.blob_service().list_containers()}
    assert set(names.CONTAINERS) <= containers
    tables = {t.name for t in clients.table_service().list_tables()}
    assert set(names.TABLES) <= tables


def test_blob_round_trip(azurite):
    from shared.pipeline import access

    _, results = access.ensure_area("roundtrip")
    blob = clients.blob_service().get_blob_client(results, "check.json")
    blob.upload_blob(b'{"ok": true}', overwrite=True)
    assert blob.download_blob().readall() == b'{"ok": true}'
    blob.delete_blob()
