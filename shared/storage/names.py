"""Names of every container and table FaceGate uses (Bicep creates the same).

Add a name here, not inline in a module, so `provision` and the Bicep check
see it.
"""

# Blob containers
UPLOADS = "uploads"  # uploads/{customerId}/{name}: images dropped by cloud apps
RESULTS = "results"  # results/{customerId}/{name}.json: one result per upload

CONTAINERS: tuple[str, ...] = (UPLOADS, RESULTS)

# Tables
CUSTOMERS = "customers"  # the customer registry
APIKEYS = "apikeys"  # key hashes -> customer
AUDIT = "audit"  # one append-only row per policy decision
GALLERIES = "galleries"  # galleries, owned by one customer
PERSONS = "persons"  # persons in a gallery
FACES = "faces"  # enrolled faces (embeddings) of a person
FACEIDS = "faceids"  # faceIds returned by /detect, kept 24 hours
POISON = "poisonuploads"  # uploads that failed every try (transient faults), kept for operators
OPERATIONS = "operations"  # Azure-style long-running operations (large person group training)
RATELIMITS = "ratelimits"  # request counters per customer and time window, shared by instances

TABLES: tuple[str, ...] = (
    CUSTOMERS,
    APIKEYS,
    AUDIT,
    GALLERIES,
    PERSONS,
    FACES,
    FACEIDS,
    POISON,
    OPERATIONS,
    RATELIMITS,
)

# Queues
# The Functions host writes a message here after the last failed try of a blob trigger.
BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison"

QUEUES: tuple[str, ...] = (BLOB_POISON_QUEUE,)
