//! Decoding: bytes to UTF-8 with encoding and delimiter detection.
