//! What the handlers of `/api/v1` share, below the router and the record kinds alike (the kinds'
//! `http.rs` and `api` import it; it imports neither): the node's state ([`ApiState`]), who is calling
//! ([`auth`]: the token check, [`Caller`], the [`Editor`] and [`Admin`] extractors, the
//! [`TokenCache`]), extractors whose rejections name the input ([`Query`], [`Path`], [`Body`]), the
//! error body ([`ErrorBody`], documented as [`Errors`]) and the route table's entries ([`ApiRoute`],
//! [`ApiPart`]), and the request span ([`trace`]).

mod auth;
mod caller;
mod error;
mod extract;
pub mod file;
pub mod limits;
mod route;
mod state;
mod token_cache;
pub mod trace;

pub use auth::{Admin, Editor};
pub(crate) use auth::{auth, caller, check_role};
pub use caller::Caller;
pub use error::{ErrorBody, ErrorDetail, Errors};
pub(crate) use error::{no_route, wrong_method};
pub use extract::{Body, Path, Query};
pub(crate) use limits::{Admission, admit};
pub use route::{ApiPart, ApiRoute, route};
pub use state::{ApiState, Shared};
pub use token_cache::{TOKEN_CACHE_TTL, TokenCache};
