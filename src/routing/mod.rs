//! Pure routing: which endpoints to try, in what order (`plan`), and what a failure means
//! (`policy`). No IO.

pub mod plan;
pub mod policy;
pub mod preset;
pub mod stats;
pub mod variant;
pub mod window;

pub use plan::{plan, Attempt, Plan, PlanError, RouteRequest};
pub use stats::LiveStats;
