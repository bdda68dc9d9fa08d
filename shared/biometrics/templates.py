"""Face templates (embeddings) as they are stored: raw float32 bytes plus the model id.

Stored templates are biometric data: they never appear in logs, audit rows or
API responses, and they are only compared with templates of the same model.
"""

from __future__ import annotations

import numpy as np

from shared.errors import Conflict


def encode(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").ravel().tobytes()


def decode(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").copy()


def require_same_model(stored_model: str, current_model: str) -> None:
    """Templates from another recognition model cannot be compared."""
    if stored_model != current_model:
        raise Conflict(
            f"These faces were enrolled with recognition model '{stored_model}', "
            f"but the service now uses '{current_model}'; enroll them again.",
            code="RecognitionModelMismatch",
        )
