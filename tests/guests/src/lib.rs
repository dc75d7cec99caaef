//! App components for the integration tests; each binary in `src/bin` is one component.
