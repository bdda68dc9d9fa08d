"""The app's HTTP functions take their auth level from the app: anonymous to the host,
since FaceGate checks its own customer keys (Ocp-Apim-Subscription-Key) in the gate."""

from __future__ import annotations

import azure.functions as func

from tests.support.metadata import functions


def test_every_http_function_is_anonymous_by_the_app_default():
    import function_app

    triggers = {n: t for n, t in functions().items() if t["type"] == "httpTrigger"}
    assert {"detect", "verify", "identify", "health", "galleries_list"} <= set(triggers)
    assert function_app.app.auth_level == func.AuthLevel.ANONYMOUS
    levels = {name: t["authLevel"].lower() for name, t in triggers.items()}
    assert levels == dict.fromkeys(triggers, "anonymous")
