"""POST /api/verify and /api/identify: face matching behind the gate."""

import azure.functions as func

from functions.http_support import Call, handle
from shared.api.requests import parse_identify, parse_json_body, parse_verify
from shared.service import recognition

bp = func.Blueprint()


@bp.function_name("verify")
@bp.route(route="verify", methods=["POST"])
def verify(req: func.HttpRequest) -> func.HttpResponse:
    """{faceId1, faceId2} or {faceId, galleryId, personId} -> {isIdentical, confidence}."""

    def work(call: Call) -> tuple[int, dict]:
        request = parse_verify(parse_json_body(req.get_body(), call.content_length))
        return 200, recognition.verify(call.caller(), request)

    return handle(req, work)


@bp.function_name("identify")
@bp.route(route="identify", methods=["POST"])
def identify(req: func.HttpRequest) -> func.HttpResponse:
    """{galleryId, faceIds, maxNumOfCandidatesReturned, confidenceThreshold} -> candidates."""

    def work(call: Call) -> tuple[int, list]:
        request = parse_identify(parse_json_body(req.get_body(), call.content_length))
        return 200, recognition.identify(call.caller(), request)

    return handle(req, work)
