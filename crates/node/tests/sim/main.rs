//! Deterministic simulations of the validators on commonware's seeded runtime and simulated
//! network: real simplex, real marshal, real ledger execution. One test binary, so the whole
//! engine is instantiated and built once: `honest` covers loss, partitions and crashes,
//! `byzantine` a validator that equivocates, proposes invalid blocks or lies in sync, `epochs`
//! a validator-set change at an epoch boundary.

mod byzantine;
mod epochs;
mod fixture;
mod honest;
