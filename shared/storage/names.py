"""Names of every container and table FaceGate uses (Bicep creates the same).

Add a name here, not inline in a module, so `provision` and the Bicep check
see it.
"""

# Blob containers: none shared. Each customer has its own pair, up-<h> for uploads and
# rs-<h> for results, created by the admin CLI (shared/pipeline/access.py names them).
CONTAINERS: tuple[str, ...] = ()

# Tables
CUSTOMERS = "customers"  # the customer registry
APIKEYS = "apikeys"  # key hashes -> customer
AUDIT = "audit"  # one append-only row per policy decision
GALLERIES = "galleries"  # galleries, owned by one customer
# one partition per gallery generation: its head row, its persons and their faces (templates)
FACES = "faces"
FACEIDS = "faceids"  # faceIds returned by /detect, kept 24 hours
POISON = "poisonuploads"  # uploads that failed every try (transient faults), kept for operators
OPERATIONS = "operations"  # Azure-style long-running operations (large person group training)
RATELIMITS = "ratelimits"  # request counters per customer and time window, shared by instances

TABLES: tuple[str, ...] = (
    CUSTOMERS,
    APIKEYS,
    AUDIT,
    GALLERIES,
    FACES,
    FACEIDS,
    POISON,
    OPERATIONS,
    RATELIMITS,
)

# Queues
# Event Grid puts a BlobCreated event here for every upload into a customer's container.
UPLOAD_EVENTS = "uploadevents"
# The Functions host moves an event here after its last failed try.
UPLOAD_EVENTS_POISON = f"{UPLOAD_EVENTS}-poison"

QUEUES: tuple[str, ...] = (UPLOAD_EVENTS, UPLOAD_EVENTS_POISON)
