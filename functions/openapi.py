"""GET /api/openapi.json: the API contract (anonymous)."""

import azure.functions as func

from shared.api.contract import openapi_text

bp = func.Blueprint()


@bp.function_name("openapi")
@bp.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 3.1 document that the end-to-end tests check real responses against."""
    return func.HttpResponse(openapi_text(), status_code=200, mimetype="application/json")
