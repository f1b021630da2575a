//! One real operation per server: the least each server must do for Sluice.

mod kafka;
mod neo4j;
mod postgres;
mod redis;
mod search;
