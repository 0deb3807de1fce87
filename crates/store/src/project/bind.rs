//! The values a projection statement binds, kept as data (a `Projection` is computed on one thread
//! and executed on another), and how each is bound to a query; `Now` is the time of the write, known
//! only when it runs.

use sqlx::Any;

/// One value bound to a projection statement; `Now` is the time of the write.
#[derive(Debug, Clone)]
pub enum Bind {
    Str(String),
    OptStr(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    Now,
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Str(v.to_string())
    }
}
impl From<&String> for Bind {
    fn from(v: &String) -> Bind {
        Bind::Str(v.clone())
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Str(v)
    }
}
impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Bind {
        Bind::OptStr(v)
    }
}
impl From<&Option<String>> for Bind {
    fn from(v: &Option<String>) -> Bind {
        Bind::OptStr(v.clone())
    }
}
impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}
impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Bind {
        Bind::OptInt(v)
    }
}
impl From<f64> for Bind {
    fn from(v: f64) -> Bind {
        Bind::Float(v)
    }
}

pub(super) fn bind<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    b: &'q Bind,
    now: &'q str,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    match b {
        Bind::Str(v) => q.bind(v.as_str()),
        Bind::OptStr(v) => q.bind(v.as_deref()),
        Bind::Int(v) => q.bind(*v),
        Bind::OptInt(v) => q.bind(*v),
        Bind::Float(v) => q.bind(*v),
        Bind::Now => q.bind(now),
    }
}
