"""FaceGate: face detection, attributes and matching behind a responsible-use gate.

One FunctionApp; every area registers its blueprint from ``functions/``.
Functions are thin adapters: the work, and the policy gate, live in ``shared/``.
"""

import azure.functions as func

from functions import (
    azure_face,
    detect,
    galleries,
    health,
    maintenance,
    openapi,
    recognition,
    uploads,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for area in (health, openapi, detect, recognition, galleries, uploads, maintenance, azure_face):
    app.register_functions(area.bp)
