//! CTAPHID framing and backends.
