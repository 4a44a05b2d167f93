//! The whole import path: bytes → decode → header plan → rows → batches →
//! a small SQLite database, with options drawn from the input's last four
//! bytes; then the invariants of `roster_fuzz::check_import`, and a
//! re-import of the export that must change nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_fuzz::{
    check_import, check_reimport, export_contacts, export_users, harness, options, Bits,
};
use roster_import::Input;

fuzz_target!(|data: &[u8]| {
    if data.len() > 64 * 1024 {
        return;
    }
    let (body, mut bits) = Bits::split(data);
    let users = bits.take(3) == 7;
    let mut h = harness();
    let (mut store, work) = h.fresh();
    let file = work.join("input.csv");
    std::fs::write(&file, body).expect("write the input");
    let mut opts = options(&mut bits, &work);
    let (atomic, dry_run) = (opts.atomic, opts.dry_run);
    let export = |s: &mut dyn roster_store::Store| {
        if users {
            export_users(s)
        } else {
            export_contacts(s)
        }
    };
    let before = export(&mut *store);
    let result = if users {
        roster_import::import_users(
            &mut *store,
            Input::Path(file),
            &mut opts,
            roster_core::password::PasswordPolicy::TEST,
        )
    } else {
        roster_import::import_contacts(&mut *store, Input::Path(file), &mut opts)
    };
    let after = export(&mut *store);
    check_import(body, atomic, dry_run, &result, &work, &before, &after);
    // Whatever the file did, the export of what is stored imports back
    // as a no-op.
    check_reimport(&mut *store, &work, &after, users);
    // The import's record is never left running.
    for rec in store.imports().expect("imports") {
        assert_ne!(rec.status, "running", "import {} left running", rec.id);
    }
});
