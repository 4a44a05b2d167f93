//! Email address validation (SPEC §3). Filled in by the email work.
