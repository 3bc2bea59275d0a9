//! yibao's domain layer: the types and rules of medical insurance, with no I/O.
//!
//! Everything here is a pure function of its inputs: no clock, no database, no
//! network. Types parse rather than validate: holding a [`money::Money`], a
//! [`resident_id::ResidentId`] or a [`division::AdmDvs`] proves the value is
//! well formed. See ARCHITECTURE.md for the map of the whole system.

pub mod account;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod codes;
pub mod contribution;
pub mod date;
pub mod division;
pub mod employer;
pub mod enrollment;
pub mod error;
pub mod fund;
pub mod institution;
pub mod money;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod payment;
pub mod policy;
pub mod resident_id;
pub mod risk;
pub mod settlement;
pub mod visit;

pub use date::{Date, DateTime};
pub use division::{AdmDvs, DivisionCode, Divisions};
pub use error::{FieldError, Parsed};
pub use money::{Money, Quantity, Ratio, UnitPrice};
pub use resident_id::ResidentId;
