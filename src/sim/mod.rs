//! A stateful simulated GitLab for tests and the demo.
