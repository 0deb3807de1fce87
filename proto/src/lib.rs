//! Protobuf definitions of the safemesh link service and their generated tonic code.
//! Generated types stay here and in the gateway; the domain never sees them.
#![forbid(unsafe_code)]
#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("safemesh.v1");
}
