//! Compiled rules (placeholder until the detector lands).
