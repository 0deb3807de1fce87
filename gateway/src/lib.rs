pub mod ca;
pub mod tls;
