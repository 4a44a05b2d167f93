//! Times production Argon2id hashes alone (no CSV, no database), for
//! `bench/users.sh`: `cargo run --release -p roster-core --example hash_time -- N THREADS`
//! hashes N passwords on each of THREADS threads at once, reusing each
//! thread's memory as a users import does, and prints the seconds per hash
//! of one thread and the hashes per second of all of them.

use std::time::Instant;

use roster_core::password::{HashMemory, Password, PasswordPolicy};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let policy = PasswordPolicy::PRODUCTION;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut memory = HashMemory::default();
                // The first hash allocates the memory; it is not timed.
                let warm = Password::new(format!("warm-up-{t}"));
                policy.hash_in(&warm, &mut memory).expect("argon2 hashes");
                let t0 = Instant::now();
                for i in 0..n {
                    let p = Password::new(format!("pässword-{t}-{i:06}"));
                    policy.hash_in(&p, &mut memory).expect("argon2 hashes");
                }
                t0.elapsed().as_secs_f64()
            })
        })
        .collect();
    let per_thread: Vec<f64> = handles
        .into_iter()
        .map(|h| h.join().expect("hashing thread"))
        .collect();
    let slowest = per_thread.iter().cloned().fold(0.0, f64::max);
    println!(
        "{{\"threads\": {threads}, \"hashes_per_thread\": {n}, \"seconds_per_hash\": {:.6}, \"hashes_per_second\": {:.3}}}",
        slowest / n as f64,
        (threads * n) as f64 / slowest
    );
}
