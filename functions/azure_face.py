"""Azure Face's routes, /api/face/{apiVersion}/..., for Microsoft's Face client library.

Thin adapters: Azure's request shape in (``shared.api.azure_face``), the same use cases
as FaceGate's own routes (same gate, audit and isolation), Azure's shape and error codes
out. A large person group is a FaceGate gallery; a faceId is a FaceGate faceId.
"""

from __future__ import annotations

import azure.functions as func

from functions.azure_http import handle_azure, operation_location
from functions.http_support import Call
from shared.api.azure_face import requests as azure
from shared.api.azure_face import shapes
from shared.api.requests import bound_image, parse_json_body
from shared.service import azure_face, galleries, recognition

bp = func.Blueprint()
FACE = "face/{apiVersion}"
LPG = FACE + "/largepersongroups/{largePersonGroupId}"
PERSON = LPG + "/persons/{personId}"


def _json(req: func.HttpRequest, call: Call) -> dict:
    return parse_json_body(req.get_body(), call.content_length)


# --- face operations ------------------------------------------------------------------------


@bp.function_name("azure_detect")
@bp.route(route=FACE + "/detect", methods=["POST"])
def azure_detect(req: func.HttpRequest) -> func.HttpResponse:
    """Image body; detectionModel, recognitionModel, returnFaceId (default true),
    returnFaceLandmarks (27 points), returnFaceAttributes, returnRecognitionModel,
    faceIdTimeToLive."""

    def work(call: Call) -> tuple[int, list]:
        azure.refuse_url_body(req.headers.get("Content-Type"))
        request = azure.parse_detect(req.params)
        image = bound_image(req.get_body(), call.content_length)
        return 200, azure_face.detect(call.caller(), image, request)

    return handle_azure(req, work)


@bp.function_name("azure_verify")
@bp.route(route=FACE + "/verify", methods=["POST"])
def azure_verify(req: func.HttpRequest) -> func.HttpResponse:
    """{faceId1, faceId2} or {faceId, personId, largePersonGroupId} -> {isIdentical, confidence}."""

    def work(call: Call) -> tuple[int, dict]:
        request = azure.parse_verify(_json(req, call))
        return 200, recognition.verify(call.caller(), request)

    return handle_azure(req, work)


@bp.function_name("azure_identify")
@bp.route(route=FACE + "/identify", methods=["POST"])
def azure_identify(req: func.HttpRequest) -> func.HttpResponse:
    """{faceIds, largePersonGroupId, maxNumOfCandidatesReturned, confidenceThreshold}."""

    def work(call: Call) -> tuple[int, list]:
        request = azure.parse_identify_body(_json(req, call))
        return 200, recognition.identify(call.caller(), request)

    return handle_azure(req, work)


@bp.function_name("azure_find_similar")
@bp.route(route=FACE + "/findsimilars", methods=["POST"])
def azure_find_similar(req: func.HttpRequest) -> func.HttpResponse:
    """{faceId, faceIds, maxNumOfCandidatesReturned, mode} -> [{faceId, confidence}]."""

    def work(call: Call) -> tuple[int, list]:
        request = azure.parse_find_similar(_json(req, call))
        return 200, azure_face.find_similar(call.caller(), request)

    return handle_azure(req, work)


@bp.function_name("azure_operation")
@bp.route(route=FACE + "/operations/{operationId}", methods=["GET"])
def azure_operation(req: func.HttpRequest) -> func.HttpResponse:
    """A long-running operation (training) of the caller: what the SDK's poller reads."""

    def work(call: Call) -> tuple[int, dict]:
        return 200, azure_face.operation(call.caller(), call.route("operationId"))

    return handle_azure(req, work)


# --- large person groups ---------------------------------------------------------------------


@bp.function_name("azure_groups_list")
@bp.route(route=FACE + "/largepersongroups", methods=["GET"])
def azure_groups_list(req: func.HttpRequest) -> func.HttpResponse:
    """start, top, returnRecognitionModel."""

    def work(call: Call) -> tuple[int, list]:
        page = azure.parse_page(req.params)
        model = azure.parse_bool(req.params, "returnRecognitionModel", False)
        found = galleries.list_galleries(call.caller(), page)
        return 200, shapes.page([shapes.group(g, model) for g in found], "largePersonGroupId", page)

    return handle_azure(req, work)


@bp.function_name("azure_group_create")
@bp.route(route=LPG, methods=["PUT"])
def azure_group_create(req: func.HttpRequest) -> func.HttpResponse:
    """{name, userData, recognitionModel}."""

    def work(call: Call) -> tuple[int, None]:
        body = azure.group_body(_json(req, call), create=True)
        galleries.create_gallery(call.caller(), call.route("largePersonGroupId"), body)
        return 200, None

    return handle_azure(req, work)


@bp.function_name("azure_group_get")
@bp.route(route=LPG, methods=["GET"])
def azure_group_get(req: func.HttpRequest) -> func.HttpResponse:
    def work(call: Call) -> tuple[int, dict]:
        model = azure.parse_bool(req.params, "returnRecognitionModel", False)
        gallery = galleries.get_gallery(call.caller(), call.route("largePersonGroupId"))
        return 200, shapes.group(gallery, model)

    return handle_azure(req, work)


@bp.function_name("azure_group_update")
@bp.route(route=LPG, methods=["PATCH"])
def azure_group_update(req: func.HttpRequest) -> func.HttpResponse:
    """{name, userData}."""

    def work(call: Call) -> tuple[int, None]:
        body = azure.group_body(_json(req, call), create=False)
        azure_face.update_gallery(call.caller(), call.route("largePersonGroupId"), body)
        return 200, None

    return handle_azure(req, work)


@bp.function_name("azure_group_delete")
@bp.route(route=LPG, methods=["DELETE"])
def azure_group_delete(req: func.HttpRequest) -> func.HttpResponse:
    """Erase the group, every person in it and every template."""

    def work(call: Call) -> tuple[int, None]:
        galleries.delete_gallery(call.caller(), call.route("largePersonGroupId"))
        return 200, None

    return handle_azure(req, work)


@bp.function_name("azure_group_train")
@bp.route(route=LPG + "/train", methods=["POST"])
def azure_group_train(req: func.HttpRequest) -> func.HttpResponse:
    """202 + Operation-Location of an operation that has already succeeded (nothing to train)."""

    def work(call: Call) -> tuple[int, None, dict[str, str]]:
        operation = azure_face.train(call.caller(), call.route("largePersonGroupId"))
        return 202, None, {"Operation-Location": operation_location(req, operation.operation_id)}

    return handle_azure(req, work)


@bp.function_name("azure_group_training")
@bp.route(route=LPG + "/training", methods=["GET"])
def azure_group_training(req: func.HttpRequest) -> func.HttpResponse:
    def work(call: Call) -> tuple[int, dict]:
        return 200, azure_face.training_status(call.caller(), call.route("largePersonGroupId"))

    return handle_azure(req, work)


# --- persons ----------------------------------------------------------------------------------


@bp.function_name("azure_persons_create")
@bp.route(route=LPG + "/persons", methods=["POST"])
def azure_persons_create(req: func.HttpRequest) -> func.HttpResponse:
    """{name, userData} -> {personId}."""

    def work(call: Call) -> tuple[int, dict]:
        body = azure.group_body(_json(req, call), create=False)
        return 200, galleries.create_person(call.caller(), call.route("largePersonGroupId"), body)

    return handle_azure(req, work)


@bp.function_name("azure_persons_list")
@bp.route(route=LPG + "/persons", methods=["GET"])
def azure_persons_list(req: func.HttpRequest) -> func.HttpResponse:
    """start, top."""

    def work(call: Call) -> tuple[int, list]:
        page = azure.parse_page(req.params)
        found = galleries.list_persons(call.caller(), call.route("largePersonGroupId"), page)
        return 200, shapes.page(found, "personId", page)

    return handle_azure(req, work)


@bp.function_name("azure_person_get")
@bp.route(route=PERSON, methods=["GET"])
def azure_person_get(req: func.HttpRequest) -> func.HttpResponse:
    def work(call: Call) -> tuple[int, dict]:
        return 200, galleries.get_person(
            call.caller(), call.route("largePersonGroupId"), call.route("personId")
        )

    return handle_azure(req, work)


@bp.function_name("azure_person_update")
@bp.route(route=PERSON, methods=["PATCH"])
def azure_person_update(req: func.HttpRequest) -> func.HttpResponse:
    """{name, userData}."""

    def work(call: Call) -> tuple[int, None]:
        body = azure.group_body(_json(req, call), create=False)
        azure_face.update_person(
            call.caller(), call.route("largePersonGroupId"), call.route("personId"), body
        )
        return 200, None

    return handle_azure(req, work)


@bp.function_name("azure_person_delete")
@bp.route(route=PERSON, methods=["DELETE"])
def azure_person_delete(req: func.HttpRequest) -> func.HttpResponse:
    """Erase the person and every stored template of theirs."""

    def work(call: Call) -> tuple[int, None]:
        galleries.delete_person(
            call.caller(), call.route("largePersonGroupId"), call.route("personId")
        )
        return 200, None

    return handle_azure(req, work)


# --- persisted faces --------------------------------------------------------------------------


@bp.function_name("azure_face_add")
@bp.route(route=PERSON + "/persistedfaces", methods=["POST"])
def azure_face_add(req: func.HttpRequest) -> func.HttpResponse:
    """Image body; userData, detectionModel -> {persistedFaceId} (one face, quality-gated)."""

    def work(call: Call) -> tuple[int, dict]:
        azure.refuse_url_body(req.headers.get("Content-Type"))
        user_data = azure.parse_add_face(req.params)
        image = bound_image(req.get_body(), call.content_length)
        added = galleries.add_face(
            call.caller(),
            call.route("largePersonGroupId"),
            call.route("personId"),
            image,
            user_data,
        )
        return 200, {"persistedFaceId": added["persistedFaceId"]}

    return handle_azure(req, work)


@bp.function_name("azure_face_get")
@bp.route(route=PERSON + "/persistedfaces/{persistedFaceId}", methods=["GET"])
def azure_face_get(req: func.HttpRequest) -> func.HttpResponse:
    def work(call: Call) -> tuple[int, dict]:
        return 200, azure_face.get_face(
            call.caller(),
            call.route("largePersonGroupId"),
            call.route("personId"),
            call.route("persistedFaceId"),
        )

    return handle_azure(req, work)


@bp.function_name("azure_face_update")
@bp.route(route=PERSON + "/persistedfaces/{persistedFaceId}", methods=["PATCH"])
def azure_face_update(req: func.HttpRequest) -> func.HttpResponse:
    """{userData}."""

    def work(call: Call) -> tuple[int, None]:
        body = _json(req, call)
        azure_face.update_face(
            call.caller(),
            call.route("largePersonGroupId"),
            call.route("personId"),
            call.route("persistedFaceId"),
            body.get("userData"),
        )
        return 200, None

    return handle_azure(req, work)


@bp.function_name("azure_face_delete")
@bp.route(route=PERSON + "/persistedfaces/{persistedFaceId}", methods=["DELETE"])
def azure_face_delete(req: func.HttpRequest) -> func.HttpResponse:
    def work(call: Call) -> tuple[int, None]:
        galleries.delete_face(
            call.caller(),
            call.route("largePersonGroupId"),
            call.route("personId"),
            call.route("persistedFaceId"),
        )
        return 200, None

    return handle_azure(req, work)
