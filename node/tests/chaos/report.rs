//! The figures of a run: rounds, faults injected by kind, writes acknowledged and refused, writes
//! lost, times to reconverge — printed at the end (and when a check fails), for docs/RELIABILITY.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::faults::Kind;
use super::load::Ledger;

#[derive(Debug, Default)]
pub struct Figures {
    pub seed: u64,
    pub rounds: usize,
    pub faults: BTreeMap<String, usize>,
    pub reconverge: Vec<Duration>,
    /// Nodes that exited on their own while their disk was full (restarted by the runner, as
    /// systemd's `Restart=on-failure` would).
    pub disk_exits: usize,
    pub netem: bool,
    /// Directives issued across a cut wire and found not to have crossed it while cut.
    pub probes: usize,
}

impl Figures {
    pub fn fault(&mut self, kind: Kind) {
        *self.faults.entry(format!("{kind:?}")).or_default() += 1;
    }

    pub fn render(&self, ledger: &Ledger, lost: usize) -> String {
        let mut s = String::new();
        let mut times = self.reconverge.clone();
        times.sort();
        let worst = times.last().copied().unwrap_or_default();
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        let _ = writeln!(s, "chaos: seed {} · rounds {}", self.seed, self.rounds);
        let _ = writeln!(
            s,
            "chaos: faults {:?} (loss/delay by {})",
            self.faults,
            if self.netem {
                "tc netem"
            } else {
                "nft numgen + tc tbf"
            }
        );
        let _ = writeln!(
            s,
            "chaos: acknowledged {} (hazards {}, events {}, directives {}, responses {}); not acknowledged {:?}",
            ledger.acked.len(),
            ledger.count("hazard"),
            ledger.count("event"),
            ledger.count("directive"),
            ledger.count("response"),
            ledger.refused
        );
        let _ = writeln!(
            s,
            "chaos: lost {lost} · reconverge worst {:.1} s, median {:.1} s · node exits on a full disk {} · partition probes held {}",
            worst.as_secs_f64(),
            median.as_secs_f64(),
            self.disk_exits,
            self.probes
        );
        s
    }
}
