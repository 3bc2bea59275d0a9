//! Route handlers, one module per business module.

pub mod account;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod contribution;
pub mod employer;
pub mod enrollment;
pub mod fund;
pub mod import;
pub mod institution;
pub mod policy;
pub mod reference;
pub mod settlement;
pub mod system;
