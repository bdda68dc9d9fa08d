"""Azure Face's API shape (`/api/face/{apiVersion}/...`) over FaceGate's own use cases.

Microsoft's `azure-ai-vision-face` client calls these routes unchanged. This package is
pure translation: Azure's query names, bodies, model names and error codes in, FaceGate's
requests and service results out (``requests``, ``shapes``, ``errors``). The use cases,
the policy gate, the audit trail and customer isolation are the same ones FaceGate's own
routes use. The README's "Azure Face compatibility" section lists what maps and what not.
"""

# API versions the Face client library (1.0.0b2) and older Face clients send.
API_VERSIONS: frozenset[str] = frozenset({"v1.0", "v1.1-preview.1", "v1.2-preview.1", "v1.2"})
