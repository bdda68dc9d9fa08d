"""POST /api/detect: faces, landmarks and attributes of one image, behind the gate."""

import azure.functions as func

from functions.http_support import Call, handle
from shared.api.requests import bound_image, parse_detect_options
from shared.service import detection

bp = func.Blueprint()


@bp.function_name("detect")
@bp.route(route="detect", methods=["POST"])
def detect(req: func.HttpRequest) -> func.HttpResponse:
    """Raw image body; returnFaceId, returnFaceLandmarks, returnFaceAttributes, maxFaces."""

    def work(call: Call) -> tuple[int, list]:
        options = parse_detect_options(req.params)
        image = bound_image(req.get_body(), call.content_length)
        return 200, detection.detect(call.caller(), image, options)

    return handle(req, work)
