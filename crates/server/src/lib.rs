//! Roster's HTTP server (to be built).
