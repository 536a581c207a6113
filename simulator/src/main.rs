//! The softkey program.
#![forbid(unsafe_code)]

fn main() {}
