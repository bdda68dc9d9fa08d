"""FaceGate: face detection, attributes and matching behind a responsible-use gate.

One FunctionApp; every area registers its blueprint from ``functions/``.
Functions are thin adapters: the work lives in ``shared/``.
"""

import azure.functions as func

from functions.health import bp as health_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (health_bp,):
    app.register_functions(blueprint)
