//! Fuzzes the policy check every policy text goes through (crates/strongroom-policy:
//! `PolicyEngine::check`, then `PolicyEngine::new` with the default set and the
//! invariant check when the text passes), as `PUT /v1/policies` and the policy files
//! at start use it.
//!
//! Arbitrary bytes, read as UTF-8 (lossily), must be either loaded or refused with
//! errors: never a panic, and never a stack overflow. Cedar's parser recurses without a
//! guard, so the check runs on a thread with a bounded stack: 16 MiB, because the
//! sanitizer and debug assertions make each level of recursion about 11 times larger
//! than in the server (a text at the operator limit overflowed 4 MiB here, while it
//! loads on a tokio worker's 2 MiB in a normal build, as
//! `the_largest_policy_the_limits_allow_loads_on_a_worker_stack` pins). An input that
//! slips past the nesting and operator limits and goes deep still aborts the run.
//!
//! Seeds in `fuzz/seeds/policy_text/`: the default policies and texts at the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_policy::{PolicyEngine, PolicySource};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let checked = std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            let source = PolicySource { origin: "api".into(), text };
            match PolicyEngine::check(&source) {
                // Its ids are prefixed `api/`, so nothing in the default set can clash.
                Ok(_) => {
                    let engine = PolicyEngine::new(&[PolicySource::default_set(), source]);
                    let engine = engine.expect("a text that checks loads with the default set");
                    // As on every PUT /v1/policies: the invariant check must not panic either.
                    let _ = engine.invariant_breaks();
                }
                Err(errors) => assert!(!errors.0.is_empty(), "a refusal names at least one error"),
            }
        })
        .expect("a thread for the check")
        .join();
    assert!(checked.is_ok(), "the policy check panicked");
});
