-- Creates begun and not yet known to have landed. A Cloud site's public API has no
-- idempotent create, so before creating an entity Ferry records that it is about to; an
-- entity with an intent and no mapping is looked for in the cloud (a killed run may have
-- created it) before it is created again. Settled intents (their mapping exists) are
-- removed when a run starts and ends.
CREATE TABLE create_intents (
    destination TEXT NOT NULL,
    site TEXT NOT NULL,
    namespace TEXT NOT NULL,
    server_id TEXT NOT NULL,
    PRIMARY KEY (destination, site, namespace, server_id)
);
