//! Password hashing policy (SPEC §4). Filled in by the password work.
