//! Webhook ingest: verify, limit, parse, dedupe, durable append, acknowledge.
