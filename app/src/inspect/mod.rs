//! Artifact inspection.
