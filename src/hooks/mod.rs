//! GitLab webhook payloads and their normalisation into domain events.
