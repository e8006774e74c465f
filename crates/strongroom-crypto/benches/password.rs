//! The cost of one password check with the default Argon2id parameters
//! (m = 19 MiB, t = 2, p = 1), and of wiping the 19 MiB work buffer that each
//! check leaves behind, so the wipe's share of a login is measured, not
//! guessed: `cargo bench -p strongroom-crypto --bench password`.

use std::hint::black_box;

use argon2::Block;
use criterion::{Criterion, criterion_group, criterion_main};
use strongroom_crypto::{PasswordParams, hash_password, verify_password};
use zeroize::Zeroize;

fn password_check(c: &mut Criterion) {
    let params = PasswordParams::default();
    let stored = hash_password(b"correct horse battery staple", &params).unwrap();
    let mut group = c.benchmark_group("password");
    group.sample_size(30);
    group.bench_function("verify_argon2id_19MiB_t2", |b| {
        b.iter(|| verify_password(black_box(b"correct horse battery staple"), &stored, &params).unwrap())
    });
    let mut blocks = vec![Block::default(); params.memory_kib as usize];
    group.bench_function("wipe_19MiB_of_argon2_blocks", |b| b.iter(|| black_box(&mut blocks[..]).iter_mut().zeroize()));
    group.finish();
}

criterion_group!(benches, password_check);
criterion_main!(benches);
