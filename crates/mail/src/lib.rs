//! Contacts captured from received mail (to be built).
