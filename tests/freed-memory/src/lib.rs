//! A global allocator for tests that looks into every heap block as it is
//! freed (and every block a `realloc` leaves behind) for secret material, so
//! that a test can prove a piece of code leaves no secret in freed memory: a
//! plain `Vec` that grew while encoding a key, or a copy dropped without
//! zeroizing, is found; a `Zeroizing` buffer is wiped before it is freed and
//! is not.
//!
//! A test binary installs it and scans:
//!
//! ```text
//! #[global_allocator]
//! static ALLOCATOR: softkey_freed_memory::Scanner = softkey_freed_memory::Scanner;
//!
//! let (value, found) = softkey_freed_memory::scan(&[&SECRET], 8, Scope::ThisThread, || work());
//! assert!(found.is_empty());
//! ```
//!
//! The one place outside the UHID backend that holds `unsafe` (STYLE.md 8:
//! the product crates forbid it): a `GlobalAlloc` cannot be written without
//! it. It is a test-only crate, a dev-dependency of the authenticator and
//! the vault, never linked into softkey; every call is forwarded to the
//! system allocator, and the only addition reads a block that is still
//! allocated. The test files that use it forbid `unsafe` themselves.
#![deny(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whose frees a scan looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only the thread that runs the scan (tests of one binary may run in
    /// parallel threads of one process, as under `cargo test`).
    ThisThread,
    /// Every thread of the process (for code that may free on a helper
    /// thread; the binary must then run its scans one at a time).
    AllThreads,
}

/// What a scan looks for: any `window` consecutive bytes of any needle.
struct Needles {
    needles: &'static [&'static [u8]],
    window: usize,
}

static NEEDLES: Mutex<Needles> = Mutex::new(Needles {
    needles: &[],
    window: 1,
});
static ALL_THREADS: AtomicBool = AtomicBool::new(false);
/// A backtrace of where each block still holding a needle was freed.
static FOUND: Mutex<Vec<String>> = Mutex::new(Vec::new());

thread_local! {
    static THIS_THREAD: Cell<bool> = const { Cell::new(false) };
    /// Set while a finding is recorded (which allocates and frees itself).
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn armed() -> bool {
    (ALL_THREADS.load(Ordering::Relaxed) || THIS_THREAD.try_with(Cell::get).unwrap_or(false))
        && !RECORDING.try_with(Cell::get).unwrap_or(true)
}

/// A stand-in for secret material: 32 bytes that are a valid P-256 scalar
/// and occur nowhere else (each byte differs from `tag` by its position).
pub const fn marker(tag: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = tag ^ (i as u8).wrapping_mul(29);
        i += 1;
    }
    out
}

/// Whether `block` holds `window` consecutive bytes of one of `needles`
/// (what a scan counts; tests use it on their own buffers too).
pub fn holds_any(block: &[u8], needles: &[&[u8]], window: usize) -> bool {
    block.windows(window).any(|part| {
        needles
            .iter()
            .any(|needle| needle.windows(window).any(|piece| piece == part))
    })
}

fn holds_needle(block: &[u8]) -> bool {
    let needles = lock(&NEEDLES);
    holds_any(block, needles.needles, needles.window)
}

fn record() {
    let _ = RECORDING.try_with(|recording| recording.set(true));
    let trace = std::backtrace::Backtrace::force_capture().to_string();
    lock(&FOUND).push(trace);
    let _ = RECORDING.try_with(|recording| recording.set(false));
}

/// The scanning allocator: install it with `#[global_allocator]`.
pub struct Scanner;

// SAFETY: every call is forwarded to the system allocator with the caller's
// arguments (allocations zeroed, so every byte of a block is initialized);
// `dealloc` only reads the block it is handed, before freeing it.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Scanner {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Zeroed, so that a block found holding a needle had it written
        // during its own life, and the spare capacity of a `Vec` is
        // initialized when `dealloc` reads it.
        // SAFETY: forwarded with the caller's (valid, non-zero-size) layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if armed() {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes from
            // `alloc` (zeroed there, so initialized), freed only below.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if holds_needle(block) {
                record();
            }
        }
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc` keeps the default (alloc, copy, dealloc), so the block it
    // leaves behind passes through `dealloc` too.
}

/// Runs `body` with the scan on for `scope`: its result, and a backtrace of
/// where each freed block still holding `window` consecutive bytes of one of
/// `needles` was freed. Only meaningful in a binary whose global allocator
/// is [`Scanner`].
pub fn scan<T>(
    needles: &'static [&'static [u8]],
    window: usize,
    scope: Scope,
    body: impl FnOnce() -> T,
) -> (T, Vec<String>) {
    assert!(window > 0, "a window of at least one byte");
    *lock(&NEEDLES) = Needles { needles, window };
    lock(&FOUND).clear();
    match scope {
        Scope::ThisThread => THIS_THREAD.with(|on| on.set(true)),
        Scope::AllThreads => ALL_THREADS.store(true, Ordering::SeqCst),
    }
    let out = body();
    THIS_THREAD.with(|on| on.set(false));
    ALL_THREADS.store(false, Ordering::SeqCst);
    (out, std::mem::take(&mut *lock(&FOUND)))
}
