-- The PostgreSQL gallery store (docs/galleries-postgres.md). Idempotent: applied at first use.
-- Every row carries the owning customer; every query filters by customer_id and gallery_key.
-- Ids compare byte by byte (COLLATE "C"), so paging by `start` orders as the Table store does.
CREATE EXTENSION IF NOT EXISTS vector;

-- One row per gallery. gallery_key is new for every gallery created (a re-created galleryId
-- starts empty, as the Table store's generation); version is +1 at every change of the
-- gallery's templates (enrolment, any erasure), so cached template statistics are per version.
CREATE TABLE IF NOT EXISTS galleries (
    gallery_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id text NOT NULL,
    gallery_id text COLLATE "C" NOT NULL,
    name text NOT NULL,
    user_data text NOT NULL DEFAULT '',
    recognition_model text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 0,
    face_count bigint NOT NULL DEFAULT 0,
    person_count bigint NOT NULL DEFAULT 0,  -- persons with at least one face
    UNIQUE (customer_id, gallery_id)
);

CREATE TABLE IF NOT EXISTS persons (
    gallery_key bigint NOT NULL REFERENCES galleries ON DELETE CASCADE,
    person_id text COLLATE "C" NOT NULL,
    customer_id text NOT NULL,
    name text NOT NULL,
    user_data text NOT NULL DEFAULT '',
    face_count integer NOT NULL DEFAULT 0,
    created timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gallery_key, person_id)
);

-- embedding has no fixed dimension: each recognition model gets its own partial HNSW index
-- on (embedding::vector(<dimension>)) WHERE model = '<model>' (see search.py), created when a
-- gallery of that model is first created.
CREATE TABLE IF NOT EXISTS faces (
    gallery_key bigint NOT NULL,
    person_id text COLLATE "C" NOT NULL,
    face_id text COLLATE "C" NOT NULL,
    customer_id text NOT NULL,
    model text NOT NULL,
    embedding vector NOT NULL,
    user_data text NOT NULL DEFAULT '',
    quality text NOT NULL DEFAULT '',  -- qualityForRecognition at enrolment
    created timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gallery_key, person_id, face_id),
    FOREIGN KEY (gallery_key, person_id) REFERENCES persons ON DELETE CASCADE
);
