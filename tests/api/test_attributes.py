"""One attribute list: the parser, the policy, the analyzer and the contract agree."""

from __future__ import annotations

from shared import attributes, vision
from shared.api import requests as api
from shared.api.contract import openapi
from shared.policy import model


def test_the_contract_lists_the_registry_attributes():
    document = openapi()
    properties = document["components"]["schemas"]["FaceAttributes"]["properties"]
    assert [p for p in properties if p != "genderConfidence"] == list(attributes.NAMES)
    parameter = next(
        p for p in document["paths"]["/detect"]["post"]["parameters"]
        if p["name"] == "returnFaceAttributes"
    )  # fmt: skip
    listed = parameter["description"].split(":", 1)[1].rstrip(".").split(",")
    assert [name.strip() for name in listed] == list(attributes.NAMES)


def test_every_attribute_names_a_known_action_input_and_role():
    roles = {"mesh", "quality", "age_gender", "emotion"}
    for attribute in attributes.REGISTRY.values():
        assert attribute.action in model.ACTIONS
        assert attribute.needs <= set(attributes.INPUTS)
        assert attribute.role in roles
    assert attributes.SENSITIVE_ACTIONS == ("age", "gender", "emotion")
    assert ("detect", *attributes.SENSITIVE_ACTIONS, "identify") == model.FEATURES


def test_parser_and_analyzer_read_the_registry():
    assert vision.ATTRIBUTES == attributes.NAMES
    every = api.parse_detect_options({"returnFaceAttributes": ",".join(attributes.NAMES)})
    assert every.attributes == attributes.NAMES
    assert every.actions == ["detect", *attributes.SENSITIVE_ACTIONS]
    assert attributes.allowed_by(["detect"]) == attributes.DETECT_ATTRIBUTES
    assert attributes.needing(attributes.CHIP) == {"blur", "exposure", "qualityForRecognition"}
