//! 追踪上下文 — the W3C trace context (`traceparent`) of the latest change of a document this node
//! wrote or received, kept in memory so the link that later sends the document continues that trace
//! (docs/PROTOCOL.md, "Trace context"). Opaque strings here: the store never parses them.
//!
//! Only filled while traces are exported (the writers note nothing otherwise), bounded, and lost on
//! restart — a trace is a help to operators, never a record.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Documents whose trace context is kept at most; the oldest note is forgotten first.
pub const TRACE_NOTES_MAX: usize = 16_384;

/// Recent trace contexts by document id.
#[derive(Debug, Default)]
pub struct TraceNotes {
    inner: Mutex<Notes>,
}

#[derive(Debug, Default)]
struct Notes {
    /// Each document's context and the number of the note that set it.
    by_doc: HashMap<String, (String, u64)>,
    /// Notes in the order they were made; a note later overwritten is stale and skipped.
    order: VecDeque<(String, u64)>,
    next: u64,
}

impl TraceNotes {
    /// Notes `traceparent` as the context of `doc_id`'s latest change.
    pub fn note(&self, doc_id: &str, traceparent: &str) {
        let Ok(mut n) = self.inner.lock() else {
            return;
        };
        let number = n.next;
        n.next += 1;
        n.by_doc
            .insert(doc_id.to_string(), (traceparent.to_string(), number));
        n.order.push_back((doc_id.to_string(), number));
        // Stale notes in `order` are dropped as they come up; the queue stays within twice the bound.
        while n.by_doc.len() > TRACE_NOTES_MAX || n.order.len() > 2 * TRACE_NOTES_MAX {
            let Some((old, number)) = n.order.pop_front() else {
                break;
            };
            if n.by_doc
                .get(&old)
                .is_some_and(|(_, current)| *current == number)
            {
                n.by_doc.remove(&old);
            }
        }
    }

    /// The context noted for `doc_id`, if any.
    pub fn get(&self, doc_id: &str) -> Option<String> {
        self.inner
            .lock()
            .ok()?
            .by_doc
            .get(doc_id)
            .map(|(t, _)| t.clone())
    }

    /// How many documents have a context noted.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |n| n.by_doc.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_note_wins_and_the_oldest_go_first() {
        let t = TraceNotes::default();
        t.note("a", "1");
        t.note("a", "2");
        assert_eq!(t.get("a").as_deref(), Some("2"));
        for i in 0..TRACE_NOTES_MAX {
            t.note(&format!("d{i}"), "x");
        }
        assert!(t.len() <= TRACE_NOTES_MAX);
        assert_eq!(t.get("a"), None, "the oldest note is forgotten first");
        assert_eq!(
            t.get(&format!("d{}", TRACE_NOTES_MAX - 1)).as_deref(),
            Some("x")
        );
    }
}
