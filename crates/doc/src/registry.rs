//! 记录种类登记 — the one list of record kinds: a new kind is its [`Kind`] variant and one line here.
//! Everything generic over kinds in this crate (the header's tag, the authority check) dispatches
//! through [`Kind::dispatch`]; the layers above keep their own one-line-per-kind lists (the store's
//! projection, the API's routes).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kind::{KindVisitor, RecordKind};
use crate::{Kind, accident, directive, enterprise, hazard};

/// The registered kinds: each [`Kind`] value and the type that implements it.
macro_rules! registry {
    ($($kind:path => $ty:ty,)+) => {
        impl Kind {
            /// Every kind, in registration order.
            pub const ALL: &'static [Kind] = &[$($kind),+];

            /// Runs `v` with the type of this kind.
            pub fn dispatch<V: KindVisitor>(self, v: V) -> V::Output {
                match self {
                    $($kind => v.visit::<$ty>(),)+
                }
            }
        }
    };
}

registry! {
    Kind::Hazard => hazard::Hazards,
    Kind::Directive => directive::Directives,
    Kind::Accident => accident::Accidents,
    Kind::Enterprise => enterprise::Enterprises,
}

struct Name;

impl KindVisitor for Name {
    type Output = &'static str;
    fn visit<K: RecordKind>(self) -> &'static str {
        K::NAME
    }
}

impl Kind {
    /// `header.kind` of this kind.
    pub fn as_str(self) -> &'static str {
        self.dispatch(Name)
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(d)?;
        Kind::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown kind {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct KindOf;

    impl KindVisitor for KindOf {
        type Output = Kind;
        fn visit<K: RecordKind>(self) -> Kind {
            K::KIND
        }
    }

    #[test]
    fn every_kind_is_registered_once_with_its_own_type_and_a_distinct_name() {
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(
                k.dispatch(KindOf),
                *k,
                "{k:?} registered with another kind's type"
            );
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
            assert!(!Kind::ALL[..i].contains(k), "{k:?} registered twice");
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(Kind::parse("summary"), None);
    }
}
