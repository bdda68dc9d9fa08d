"""MediaPipe FaceMesh (Apache-2.0): 468 3-D landmarks, and the head pose derived from them.

Input: a 192x192 RGB crop scaled to [0, 1], NHWC; the crop is a square 1.5x the face box,
rotated so the eyes are level (as MediaPipe's own graph does). Output: 468 x (x, y, z) in
crop pixels (z on the same scale as x, towards the camera negative) and a face-presence logit.

Head pose follows Azure Face's convention (degrees, see docs/vision.md):
  * roll  > 0 when the face is rotated clockwise in the image (head tilted towards the
    subject's left shoulder), as Azure's samples rotate the face rectangle by +roll;
  * yaw   > 0 when the subject turns to their left (the face points towards the image's right);
  * pitch > 0 when the subject looks up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.vision.face import Face
from shared.vision.geometry import apply, invert, warp
from shared.vision.zoo import MESH, FaceModel, register

SIZE = 192
CROP_SCALE = 1.5

# indices into the 468-point mesh (MediaPipe's canonical topology)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133  # subject's right eye = image left
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
NOSE_TIP, SUBNASALE = 1, 2
MOUTH_RIGHT, MOUTH_LEFT = 61, 291  # image-left corner, image-right corner
FOREHEAD, CHIN = 10, 152
RIGHT_EYE_RING = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE_RING = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # (468, 3) image pixels; z in image-pixel units
    presence: float  # 0..1 face-presence score

    def five(self) -> np.ndarray:
        """Azure's 5 landmarks in image order: pupilLeft (image left), pupilRight, noseTip,
        mouthLeft (image left), mouthRight."""
        p = self.points[:, :2]
        return np.stack(
            [
                p[list(RIGHT_EYE_RING)].mean(0),
                p[list(LEFT_EYE_RING)].mean(0),
                p[NOSE_TIP],
                p[MOUTH_RIGHT],
                p[MOUTH_LEFT],
            ]
        )

    def dlib5(self) -> np.ndarray:
        """dlib's 5-point shape order: left eye outer/inner (image right), right eye
        outer/inner (image left), nose base."""
        p = self.points[:, :2]
        return np.stack(
            [
                p[LEFT_EYE_OUTER],
                p[LEFT_EYE_INNER],
                p[RIGHT_EYE_OUTER],
                p[RIGHT_EYE_INNER],
                p[SUBNASALE],
            ]
        )


@register
class FaceMesh(FaceModel):
    """Adapter: fills ``face.mesh`` (alignment points for other models) and ``headPose``."""

    role = "mesh"
    provides = frozenset({MESH, "headPose"})
    models = ("facemesh_468",)

    def fill(self, rgb: np.ndarray, face: Face, wanted: frozenset[str]) -> None:
        if face.mesh is None:
            face.mesh = self.infer(rgb, face.box, face.points)
        if "headPose" in wanted:
            face.attributes["headPose"] = head_pose(face.mesh)

    @staticmethod
    def crop_matrix(box: np.ndarray, five: np.ndarray) -> np.ndarray:
        """Box + 5 points -> 2x3 matrix into the rotated, 1.5x square crop."""
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        side = max(x1 - x0, y1 - y0) * CROP_SCALE
        dx, dy = five[1] - five[0]
        angle = np.arctan2(dy, dx)  # eye line angle in the image
        k = SIZE / max(side, 1e-6)
        c, s = np.cos(-angle) * k, np.sin(-angle) * k
        # rotate by -angle about the centre, scale, then move the centre to the crop centre
        return np.array(
            [[c, -s, SIZE / 2 - (c * cx - s * cy)], [s, c, SIZE / 2 - (s * cx + c * cy)]]
        )

    def infer(self, rgb: np.ndarray, box: np.ndarray, five: np.ndarray) -> Mesh:
        matrix = self.crop_matrix(box, five)
        crop = warp(rgb, matrix, SIZE).astype(np.float32) / 255.0
        session = self.session(self.models[0])
        landmarks, flag = session.run(None, {session.get_inputs()[0].name: crop[None]})
        pts = landmarks.reshape(468, 3).astype(np.float64)
        inverse = invert(matrix)
        scale = float(np.sqrt(abs(np.linalg.det(inverse[:, :2]))))
        xy = apply(inverse, pts[:, :2])
        z = pts[:, 2:] * scale
        presence = float(1.0 / (1.0 + np.exp(-float(np.ravel(flag)[0]))))
        return Mesh(np.hstack([xy, z]), presence)


def head_pose(mesh: Mesh) -> dict[str, float]:
    """Yaw, pitch, roll (degrees, Azure convention) from the mesh's own 3-D axes."""
    p = mesh.points
    x = p[LEFT_EYE_OUTER] - p[RIGHT_EYE_OUTER]  # towards image right
    y = p[CHIN] - p[FOREHEAD]  # towards image bottom
    x = x / np.linalg.norm(x)
    y = y - (y @ x) * x
    y = y / np.linalg.norm(y)
    z = np.cross(x, y)  # away from the camera for a frontal face (image axes are x right, y down)
    # face axes expressed in camera coordinates; z_face points into the head
    roll = np.degrees(np.arctan2(x[1], x[0]))
    yaw = np.degrees(np.arcsin(np.clip(-z[0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(z[1], z[2]))
    return {
        "pitch": round(float(pitch), 1),
        "roll": round(float(roll), 1),
        "yaw": round(float(yaw), 1),
    }
