"""GET /api/health: anonymous liveness and what is loaded."""

import json

import azure.functions as func

from shared.health import health_report

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Report that the app is up, its version, and the models it has loaded."""
    return func.HttpResponse(
        json.dumps(health_report()), status_code=200, mimetype="application/json"
    )
