//! The global allocator: mimalloc, except for huge blocks, which glibc takes straight from the OS.
//!
//! mimalloc: glibc's malloc was about a fifth of the server's CPU samples under load (the
//! database builds and frees many small values per record); see BENCHMARKS.md, session 7.
//!
//! Huge blocks: the embedded store allocates each new memtable arena (64 MiB) zeroed while it
//! holds the memtable's write lock, which every read and commit needs. mimalloc serves that from
//! a huge segment it has freed and purged before, and zeroes it by hand, faulting in 16,384
//! pages: 140–160 ms during which the whole database stood still (BENCHMARKS.md, session 9).
//! glibc gives a block this size a fresh `mmap`, which the kernel zeroes lazily on first touch,
//! so the arena costs one system call and its page faults are spread over the next seconds of
//! writes. A memtable set smaller than 32 MiB (`storage.memtable_mib`) stays with mimalloc.

// A `GlobalAlloc` is unsafe to implement by definition; this one only routes by size.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

use mimalloc::MiMalloc;

/// Blocks at least this large go to `System`. glibc maps every block from 32 MiB up afresh,
/// whatever its adaptive mmap threshold has become (smaller ones may come from its heap,
/// memset by `calloc` and kept resident; with 4 MiB here, peak RSS doubled under load).
const HUGE: usize = 32 << 20;

pub struct Alloc;

// SAFETY: every block is freed (and resized) by the allocator that made it: the size decides,
// and `dealloc`/`realloc` receive the layout the block was allocated with.
unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { if layout.size() >= HUGE { System.alloc(layout) } else { MiMalloc.alloc(layout) } }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe {
            if layout.size() >= HUGE { System.alloc_zeroed(layout) } else { MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from the same allocator, chosen by the same size.
        unsafe {
            if layout.size() >= HUGE { System.dealloc(ptr, layout) } else { MiMalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from the allocator `layout.size()` names; a block that crosses the
        // threshold is moved between the two by hand.
        unsafe {
            match (layout.size() >= HUGE, new_size >= HUGE) {
                (true, true) => System.realloc(ptr, layout, new_size),
                (false, false) => MiMalloc.realloc(ptr, layout, new_size),
                _ => {
                    let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    new
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grows a block across the threshold and shrinks it back: contents survive each move, and
    /// every block is freed by the allocator that made it (a mismatch aborts the process).
    #[test]
    fn blocks_keep_their_bytes_across_the_threshold() {
        let small = Layout::from_size_align(4096, 16).unwrap();
        // SAFETY: each pointer is used with the layout it was last allocated or resized with.
        unsafe {
            let p = Alloc.alloc(small);
            assert!(!p.is_null());
            for i in 0..small.size() {
                *p.add(i) = (i % 251) as u8;
            }
            let p = Alloc.realloc(p, small, 2 * HUGE);
            assert!(!p.is_null());
            for i in 0..small.size() {
                assert_eq!(*p.add(i), (i % 251) as u8);
            }
            let big = Layout::from_size_align(2 * HUGE, 16).unwrap();
            *p.add(2 * HUGE - 1) = 7;
            let p = Alloc.realloc(p, big, 3 * HUGE);
            assert_eq!(*p.add(2 * HUGE - 1), 7);
            let bigger = Layout::from_size_align(3 * HUGE, 16).unwrap();
            let p = Alloc.realloc(p, bigger, small.size());
            for i in 0..small.size() {
                assert_eq!(*p.add(i), (i % 251) as u8);
            }
            Alloc.dealloc(p, small);
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_on_both_sides() {
        for size in [64, HUGE - 1, HUGE, HUGE + 4096] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: freed with the layout it was allocated with.
            unsafe {
                let p = Alloc.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                Alloc.dealloc(p, layout);
            }
        }
    }
}
