//! The users import (SPEC §4).
