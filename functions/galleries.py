"""Galleries, persons and enrolled faces: /api/galleries/..., each behind the gate (`enroll`;
DELETEs `erase`)."""

import azure.functions as func

from functions.http_support import Call, handle
from shared.api.paging import page_from
from shared.api.requests import bound_image, parse_json_body
from shared.service import galleries

bp = func.Blueprint()


@bp.function_name("galleries_list")
@bp.route(route="galleries", methods=["GET"])
def galleries_list(req: func.HttpRequest) -> func.HttpResponse:
    """The caller's galleries, in id order; paged by `start` (after this id) and `top`."""

    def work(call: Call) -> tuple[int, list]:
        page = page_from(req.params.get("start"), req.params.get("top"))
        return 200, galleries.list_galleries(call.caller(), page)

    return handle(req, work)


@bp.function_name("gallery_put")
@bp.route(route="galleries/{galleryId}", methods=["PUT"])
def gallery_put(req: func.HttpRequest) -> func.HttpResponse:
    """Create a gallery: {name, userData}."""

    def work(call: Call) -> tuple[int, dict]:
        body = parse_json_body(req.get_body(), call.content_length)
        gallery = galleries.create_gallery(call.caller(), call.route("galleryId"), body)
        return 200, gallery

    return handle(req, work)


@bp.function_name("gallery_get")
@bp.route(route="galleries/{galleryId}", methods=["GET"])
def gallery_get(req: func.HttpRequest) -> func.HttpResponse:
    return handle(
        req,
        lambda call: (
            200,
            galleries.get_gallery(call.caller(), call.route("galleryId")),
        ),
    )


@bp.function_name("gallery_delete")
@bp.route(route="galleries/{galleryId}", methods=["DELETE"])
def gallery_delete(req: func.HttpRequest) -> func.HttpResponse:
    """Erase the gallery, every person in it and every template."""

    def work(call: Call) -> tuple[int, None]:
        galleries.delete_gallery(call.caller(), call.route("galleryId"))
        return 200, None

    return handle(req, work)


@bp.function_name("persons_add")
@bp.route(route="galleries/{galleryId}/persons", methods=["POST"])
def persons_add(req: func.HttpRequest) -> func.HttpResponse:
    """Add a person: {name, userData} -> {personId}."""

    def work(call: Call) -> tuple[int, dict]:
        body = parse_json_body(req.get_body(), call.content_length)
        return 200, galleries.create_person(call.caller(), call.route("galleryId"), body)

    return handle(req, work)


@bp.function_name("persons_list")
@bp.route(route="galleries/{galleryId}/persons", methods=["GET"])
def persons_list(req: func.HttpRequest) -> func.HttpResponse:
    """The persons of a gallery, in id order; paged by `start` (after this id) and `top`."""

    def work(call: Call) -> tuple[int, list]:
        page = page_from(req.params.get("start"), req.params.get("top"))
        return 200, galleries.list_persons(call.caller(), call.route("galleryId"), page)

    return handle(req, work)


@bp.function_name("person_get")
@bp.route(route="galleries/{galleryId}/persons/{personId}", methods=["GET"])
def person_get(req: func.HttpRequest) -> func.HttpResponse:
    def work(call: Call) -> tuple[int, dict]:
        return 200, galleries.get_person(
            call.caller(), call.route("galleryId"), call.route("personId")
        )

    return handle(req, work)


@bp.function_name("person_delete")
@bp.route(route="galleries/{galleryId}/persons/{personId}", methods=["DELETE"])
def person_delete(req: func.HttpRequest) -> func.HttpResponse:
    """Erase the person and every stored template of theirs."""

    def work(call: Call) -> tuple[int, dict]:
        return 200, galleries.delete_person(
            call.caller(), call.route("galleryId"), call.route("personId")
        )

    return handle(req, work)


@bp.function_name("faces_add")
@bp.route(route="galleries/{galleryId}/persons/{personId}/faces", methods=["POST"])
def faces_add(req: func.HttpRequest) -> func.HttpResponse:
    """Enrol one face (image body, quality-gated); query userData."""

    def work(call: Call) -> tuple[int, dict]:
        image = bound_image(req.get_body(), call.content_length)
        return 200, galleries.add_face(
            call.caller(),
            call.route("galleryId"),
            call.route("personId"),
            image,
            req.params.get("userData"),
        )

    return handle(req, work)


@bp.function_name("face_delete")
@bp.route(
    route="galleries/{galleryId}/persons/{personId}/faces/{persistedFaceId}",
    methods=["DELETE"],
)
def face_delete(req: func.HttpRequest) -> func.HttpResponse:
    def work(call: Call) -> tuple[int, None]:
        galleries.delete_face(
            call.caller(),
            call.route("galleryId"),
            call.route("personId"),
            call.route("persistedFaceId"),
        )
        return 200, None

    return handle(req, work)
