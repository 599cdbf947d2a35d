//! STUB (dropped when the parsers land).
pub mod edges;
pub mod nsswitch;
