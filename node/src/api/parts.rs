//! 接口登记 — the parts `/api/v1` is made of, one line each: a new record kind adds its
//! `<kind>::http::API` here. The router ([`super::table`]) and the OpenAPI document
//! ([`crate::openapi`]) are both built from this list.

use crate::http::ApiPart;
use crate::{accidents, directives, enterprises, evidence, excel, hazards, reports, tokens};

pub const PARTS: &[ApiPart] = &[
    super::node::API,
    hazards::http::API,
    directives::http::API,
    enterprises::http::API,
    accidents::http::API,
    excel::http::API,
    evidence::http::API,
    reports::API,
    tokens::API,
];
