//! Shared by `tests/fuzz.rs` and `examples/fuzz.rs` (scripts/fuzz): a counting global allocator
//! (peak live bytes per case), and one fuzz case = MIDI bytes through
//! `musicvae::data::analyse_bytes` (parse → split/quantize → every converter → windows), timed,
//! with panics caught.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Budget per case (issue 13: no case above 1 GiB of memory or 5 s).
pub const MAX_CASE_BYTES: usize = 1 << 30;
pub const MAX_CASE_TIME: Duration = Duration::from_secs(5);
/// Allocations that would take live memory past this fail at once (the process aborts with a
/// message) instead of swapping a shared machine to death.
const HARD_LIMIT: usize = 8 << 30;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        if now > HARD_LIMIT {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let now = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
            if now > HARD_LIMIT {
                LIVE.fetch_sub(new - l.size(), Ordering::Relaxed);
                return std::ptr::null_mut();
            }
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// What one case cost.
#[derive(Debug, Clone, Copy)]
pub struct CaseStats {
    /// Peak live bytes above the level at the start of the case.
    pub peak_bytes: usize,
    pub time: Duration,
    pub panicked: bool,
    /// The file was read (Ok) rather than refused with a reason.
    pub parsed: bool,
}

impl CaseStats {
    pub fn within_budget(&self) -> bool {
        !self.panicked && self.peak_bytes < MAX_CASE_BYTES && self.time < MAX_CASE_TIME
    }
}

/// Run one input through the library entry point. Only meaningful with no other thread of the
/// process allocating meanwhile.
pub fn run_case(bytes: &[u8]) -> CaseStats {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t0 = Instant::now();
    let r = std::panic::catch_unwind(|| {
        musicvae::data::analyse_bytes(bytes).map(|a| {
            // Touch the result so nothing is optimised away.
            a.extractions
                .iter()
                .map(|(_, e)| e.windows.len())
                .sum::<usize>()
        })
    });
    let time = t0.elapsed();
    CaseStats {
        peak_bytes: PEAK.load(Ordering::Relaxed).saturating_sub(base),
        time,
        panicked: r.is_err(),
        parsed: matches!(r, Ok(Ok(_))),
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The seeds: every MIDI file of midi_data/ (sorted), then the regression inputs of
/// tests/fixtures/fuzz/ (hostile files mutate into new hostile files), as bytes.
pub fn corpus() -> Vec<Vec<u8>> {
    let files = musicvae::data::corpus::scan(&root().join("midi_data")).unwrap_or_default();
    files
        .iter()
        .filter_map(|f| std::fs::read(&f.path).ok())
        .chain(fixtures().into_iter().map(|f| f.1))
        .collect()
}

/// The regression inputs of tests/fixtures/fuzz/ (sorted by name).
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/fixtures/fuzz");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "mid"))
                .filter_map(|p| {
                    let name = p.file_name()?.to_string_lossy().into_owned();
                    Some((name, std::fs::read(&p).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Totals of a run.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub cases: usize,
    pub parsed: usize,
    pub panics: usize,
    pub over_budget: usize,
    pub max_bytes: usize,
    pub max_time: Duration,
    /// (case index, bytes) of every failing input.
    pub failures: Vec<(usize, Vec<u8>)>,
}

impl Totals {
    pub fn add(&mut self, case: usize, input: &[u8], s: CaseStats) {
        self.cases += 1;
        self.parsed += s.parsed as usize;
        self.panics += s.panicked as usize;
        self.max_bytes = self.max_bytes.max(s.peak_bytes);
        self.max_time = self.max_time.max(s.time);
        if !s.within_budget() {
            self.over_budget += (!s.panicked) as usize;
            if self.failures.len() < 100 {
                self.failures.push((case, input.to_vec()));
            }
        }
    }
    pub fn summary(&self) -> String {
        format!(
            "{} executions ({} parsed), {} panics, {} over budget, max memory {:.1} MiB, max time {:.3} s",
            self.cases,
            self.parsed,
            self.panics,
            self.over_budget,
            self.max_bytes as f64 / (1 << 20) as f64,
            self.max_time.as_secs_f64()
        )
    }
}

/// `count` seeded cases: case i mutates corpus file (i mod n) with the case's own generator, so
/// any case can be replayed alone from (seed, i). `keep_going(i)` ends a run early.
pub fn fuzz(
    corpus: &[Vec<u8>],
    seed: u64,
    count: usize,
    mut keep_going: impl FnMut(usize) -> bool,
) -> Totals {
    let mut t = Totals::default();
    if corpus.is_empty() {
        return t;
    }
    for i in 0..count {
        if !keep_going(i) {
            break;
        }
        let input = case_input(corpus, seed, i);
        let s = run_case(&input);
        t.add(i, &input, s);
    }
    t
}

/// The input of case `i` of a seeded run.
pub fn case_input(corpus: &[Vec<u8>], seed: u64, i: usize) -> Vec<u8> {
    let mut rng = musicvae::data::fuzz::Rng::new(seed ^ (i as u64).wrapping_mul(0x1000_0000_01B3));
    let base = &corpus[i % corpus.len()];
    musicvae::data::fuzz::mutate(base, &mut rng)
}
